package diagnose

import (
	"context"
	"testing"
)

// Parsers run for every device of a 10,000-device sweep; these keep their cost visible.

func benchParser(b *testing.B, dir, name string, parse func(string) any) {
	text := readFile(b, "testdata/"+dir+"/"+name+".txt")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		parse(text)
	}
}

func BenchmarkParseCurl(b *testing.B) {
	benchParser(b, "curl", "api_403_ok", goldenParsers["curl"])
}

func BenchmarkParseConnectorLog(b *testing.B) {
	benchParser(b, "connectorlog", "wrapped_80", goldenParsers["connectorlog"])
}

func BenchmarkParseLsof(b *testing.B) {
	benchParser(b, "lsof", "wrapped_bad_80", goldenParsers["lsof"])
}

func BenchmarkParseContext(b *testing.B) {
	benchParser(b, "context", "sim_enrolled", goldenParsers["context"])
}

// BenchmarkRunChecksHealthy is the parsing and judging cost of one healthy device (the fake
// executor costs nothing).
func BenchmarkRunChecksHealthy(b *testing.B) {
	env := testEnv(b, "emea", "eu")
	d := healthyDevice(b, env)
	b.ReportAllocs()
	for b.Loop() {
		d.sent = d.sent[:0]
		RunChecks(context.Background(), d, env, nil)
	}
}
