package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{
		"": 0, "abc": 3, "许娜阳": 6, "R-1 张三": 8, "（全角）": 8, "한국": 4, "é": 1, "太原理工大学2023": 16,
	} {
		assert.Equal(t, want, displayWidth(s), s)
	}
}

// TestWriteTable: columns line up in terminal cells when cells mix Chinese and ASCII, and
// no line ends in spaces.
func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, []string{"name", "institution", "amount"}, [][]string{
		{"许娜阳", "太原理工大学", "14868.00"},
		{"Li", "TYUT", ""},
	}))
	assert.Equal(t, ""+
		"name    institution   amount\n"+
		"许娜阳  太原理工大学  14868.00\n"+
		"Li      TYUT\n", b.String())
}
