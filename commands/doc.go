// Package commands holds techledger's domain rules: it turns commands into events, or
// rejects them naming the field and the rule.
//
// The loop, for every command from any path (HTTP, NDJSON import, CLI):
//
//	cmd, err := commands.Decode(line)           // strict JSON: unknown commands and fields refused
//	c := fold(store.ReadStream("contract-"+id))  // the contract aggregate (cached, topped up)
//	events, err := commands.Decide(c, cmd, env)  // pure: state + command + today -> events | *Error
//	store.Append(ctx, stream, ledger.Exactly(c.Version), events...)  // conflict: reload, decide again
//
// Decide is a pure function: no I/O, no clock, no randomness (today and the use grants on
// the achievement come in through Env). Handler does the I/O around it: loading, the
// permanent command_id index, appending with the expected version, bounded retries. Import
// applies an NDJSON stream through the same Handler.
//
// Reference data (contract types, technical fields, party kinds, regions, USCC and
// registration-number formats) is code in this package, each table citing its source.
package commands
