package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/pflag"

	"techledger/server"
	"techledger/transparency"
)

func init() {
	addVerb(verb{name: "witness", usage: "witness --key FILE --log VERIFIER_KEY [--log VERIFIER_KEY ...] --state DIR [--addr ADDR]", summary: "cosign logs' checkpoints after checking their consistency (C2SP tlog-witness)", nargs: 0, flags: witnessFlags,
		help: "Runs a witness (C2SP tlog-witness) until stopped: POST /add-checkpoint takes a log's signed\ncheckpoint with a consistency proof from the latest checkpoint of that log the witness\ncosigned, and returns a cosignature (C2SP tlog-cosignature) only if the log's signature\nand the proof verify; it refuses a rollback or a fork. --key is an Ed25519 key written by\nkeygen (its origin is the witness's name); --log is a verifier key of a log it witnesses\n(repeat for several logs, or several keys of one log). It keeps the latest cosigned\ncheckpoint of each log in --state (losing it means a new witness key). Prints its\ncosignature verifier key on stdout (docs/transparency.md)."})
}

func witnessFlags(fs *pflag.FlagSet) action {
	var keyFile, state, addr string
	var logs []string
	fs.StringVar(&keyFile, "key", "", "the witness's signing key file (techledger keygen --origin WITNESS_NAME)")
	fs.StringArrayVar(&logs, "log", nil, "verifier key of a log to witness (name+hash+base64; repeatable)")
	fs.StringVar(&state, "state", "", "directory of the witness's state (the latest cosigned checkpoint of each log)")
	fs.StringVar(&addr, "addr", "127.0.0.1:8091", "address to serve add-checkpoint on")
	return func(ctx context.Context, c *call) int {
		if keyFile == "" || len(logs) == 0 || state == "" {
			c.usage()
			return exitUsage
		}
		return witness(ctx, keyFile, logs, state, addr, c.stdout, c.stderr)
	}
}

// witness runs the verb witness once its flags are checked.
func witness(ctx context.Context, keyFile string, logs []string, state, addr string, stdout, stderr io.Writer) int {
	st, err := os.Stat(keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "techledger witness: key: %v\n", err)
		return exitUsage
	}
	if st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "techledger witness: key: %s is readable by others (mode %v): chmod 600 it\n", keyFile, st.Mode().Perm())
		return exitUsage
	}
	skey, err := os.ReadFile(keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "techledger witness: key: %v\n", err)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	w, err := transparency.OpenWitness(transparency.WitnessOptions{Dir: state, SignerKey: string(skey), LogKeys: logs, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "techledger witness: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, w.VerifierKey())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "techledger witness: %v\n", err)
		return exitFailure
	}
	logger.Info("witness serving add-checkpoint", "addr", "http://"+ln.Addr().String(), "logs", len(logs))
	if err := server.Serve(ctx, ln, w.Handler(), logger, server.ShutdownGrace); err != nil {
		fmt.Fprintf(stderr, "techledger witness: %v\n", err)
		return exitFailure
	}
	return exitOK
}
