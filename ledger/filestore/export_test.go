package filestore

// The segment layout, for the external tests that build or damage segments byte by byte.
const (
	HeaderBytes  = headerBytes  // a segment's header
	RecordPrefix = recordPrefix // the length before each record inside a frame
)
