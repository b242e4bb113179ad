// Package sample generates realistic, deterministic command streams for techledger: the NDJSON that
// `techledger import` reads (docs/domain.md, Commands), shaped like a few years of technology
// contract registration (技术合同认定登记) in Shanxi.
//
// [Write] registers [Config.Contracts] contracts with registration dates spread over the
// working days of 2019-01-01 … 2025-12-31 (more in later years and in December, none on
// weekends, at the Spring Festival or in the National Day week), and follows each with the
// commands a registrar would enter later: proceeds assignments (收益权) naming the researchers
// of university and institute sellers, ownership assignments (所有权, including the 赋权 pilot
// split), use grants (使用权) on licences, payments, a few amendments and revocations. Later
// commands come in the order they would be recorded (roughly by date), interleaved with later
// registrations; nothing is recorded or paid after 2025-12-31, though a use grant's term may
// run beyond it. Some achievements are licensed more than once, by ordinary grants or by
// exclusive grants one after another.
//
// Every line is valid under the rules of docs/domain.md when applied in file order: registration
// numbers and unified social credit codes pass the checks of package commands, shares sum to
// exactly 1, payments never exceed the amount in force, exclusive and sole use grants on one
// achievement never overlap, and a revoked contract receives nothing further. The shares of
// researchers are mostly at or above the Shanxi policy level of 0.70, but some fall between
// the statutory floor of 0.50 and 0.70 and some below 0.50, so that reports have something to
// flag.
//
// The data is synthetic. Universities and research institutes carry their real names so that
// reports read naturally; every enterprise, person, code and amount is invented, and the
// unified social credit codes are made up (with correct check characters) from a hash of the
// organization's name, so an organization keeps one code everywhere.
//
// The same Config always gives byte-identical output (the generator uses one seeded PCG
// source and integer arithmetic only). Output is streamed: memory stays bounded however
// many contracts are asked for, since only contracts with commands still to come and a
// bounded set of recent achievements are held.
//
// testdata/sample.ndjson at the module root is [DefaultConfig]'s output. After changing the
// generator, regenerate it with
//
//	go test ./internal/sample/ -run TestSampleFile -update
package sample
