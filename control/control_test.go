package control

import (
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Request
		err  string
	}{
		{in: `{"query":"status"}`, want: Request{Query: "status"}},
		{in: `{"query":"status","brief":true}` + "\n", want: Request{Query: "status", Brief: true}},
		{in: ` { "brief" : false , "query" : "reload" } `, want: Request{Query: "reload"}},
		{in: `{}`, want: Request{}},
		{in: `{"query":"status","Query":"reload"}`, err: `unknown key "Query"`},
		{in: `{"QUERY":"reload"}`, err: `unknown key "QUERY"`},
		{in: `{"query":"status","shutdown":1}`, err: `unknown key "shutdown"`},
		{in: `{"query":"status","query":"reload"}`, err: `key "query" given twice`},
		{in: `{"query":1}`, err: `key "query": json: cannot unmarshal number`},
		{in: `{"brief":"yes"}`, err: `key "brief": json: cannot unmarshal string`},
		{in: `["query"]`, err: "want a JSON object"},
		{in: `{"query":"status"} {"query":"reload"}`, err: "trailing data"},
		{in: `{"query":"status"`, err: "EOF"},
		{in: `status`, err: "invalid character 's'"},
	} {
		got, err := DecodeRequest([]byte(c.in))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.in, err, c.err)
		case c.err == "" && got != c.want:
			t.Errorf("%s: %+v, want %+v", c.in, got, c.want)
		}
	}
}
