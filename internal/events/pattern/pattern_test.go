package pattern

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// acmEvent is an event as Sigil publishes it (see internal/events).
const acmEvent = `{"version":"0","id":"5d3b7c1e-0000-4000-8000-000000000001",` +
	`"detail-type":"ACM Certificate Approaching Expiration","source":"aws.acm",` +
	`"account":"000000000000","time":"2026-12-05T10:00:00Z","region":"us-east-1",` +
	`"resources":["arn:aws:acm:us-east-1:000000000000:certificate/abc"],` +
	`"detail":{"DaysToExpiry":31,"CommonName":"app.internal"}}`

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

// runMatchCases checks each case through both entry points: Matches on the
// raw event and Match on a decoded one.
func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(c.pattern)
			if err != nil {
				t.Fatalf("Compile(%s): %v", c.pattern, err)
			}
			got, err := p.Matches([]byte(c.event))
			if err != nil {
				t.Fatalf("Matches(%s): %v", c.event, err)
			}
			if got != c.want {
				t.Errorf("pattern %s\nevent   %s\nmatched %v, want %v", c.pattern, c.event, got, c.want)
			}
			e, err := Decode([]byte(c.event))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if again := p.Match(e); again != got {
				t.Errorf("Match on decoded event = %v, Matches = %v", again, got)
			}
		})
	}
}

func TestACMEvents(t *testing.T) {
	const base = `"source":["aws.acm"],"detail-type":["ACM Certificate Approaching Expiration"]`
	runMatchCases(t, []matchCase{
		{"within 30 days", `{` + base + `,"detail":{"DaysToExpiry":[{"numeric":["<=",30]}]}}`, acmEvent, false},
		{"within 45 days", `{` + base + `,"detail":{"DaysToExpiry":[{"numeric":["<=",45]}]}}`, acmEvent, true},
		{"source only", `{"source":["aws.acm"]}`, acmEvent, true},
		{"other source", `{"source":["aws.ec2"]}`, acmEvent, false},
		{"other detail type", `{"source":["aws.acm"],"detail-type":["ACM Certificate Expired"]}`, acmEvent, false},
		{"any of detail types", `{"detail-type":["ACM Certificate Expired","ACM Certificate Approaching Expiration"]}`, acmEvent, true},
		{"resource ARN", `{"resources":["arn:aws:acm:us-east-1:000000000000:certificate/abc"]}`, acmEvent, true},
		{"resource prefix", `{"resources":[{"prefix":"arn:aws:acm:us-east-1:"}]}`, acmEvent, true},
		{"resource in other region", `{"resources":[{"prefix":"arn:aws:acm:eu-west-1:"}]}`, acmEvent, false},
		{"account and region", `{"account":["000000000000"],"region":["us-east-1"]}`, acmEvent, true},
		{"account is a string", `{"account":[0]}`, acmEvent, false},
		{"common name suffix", `{"detail":{"CommonName":[{"suffix":".internal"}]}}`, acmEvent, true},
		{"time prefix", `{"time":[{"prefix":"2026-12-05"}]}`, acmEvent, true},
		{"not renewal", `{"detail-type":[{"anything-but":{"prefix":"ACM Certificate Renewal"}}]}`, acmEvent, true},
		{"domain wildcard", `{"detail":{"CommonName":[{"wildcard":"*.internal"}]}}`, acmEvent, true},
		{"missing detail field", `{"detail":{"SerialNumber":[{"exists":true}]}}`, acmEvent, false},
		{"five fields", benchPattern, acmEvent, true},
	})
}

func TestExactMatch(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"string", `{"a":["x"]}`, `{"a":"x"}`, true},
		{"string case differs", `{"a":["x"]}`, `{"a":"X"}`, false},
		{"string mismatch", `{"a":["x"]}`, `{"a":"y"}`, false},
		{"one of several", `{"a":["x","y","z"]}`, `{"a":"z"}`, true},
		{"AND of fields", `{"a":["x"],"b":["y"]}`, `{"a":"x","b":"y"}`, true},
		{"AND fails on one", `{"a":["x"],"b":["y"]}`, `{"a":"x","b":"n"}`, false},
		{"missing field", `{"a":["x"]}`, `{"b":"x"}`, false},
		{"extra event fields ignored", `{"a":["x"]}`, `{"a":"x","b":1,"c":{"d":[]}}`, true},
		{"empty string", `{"a":[""]}`, `{"a":""}`, true},
		{"empty string vs null", `{"a":[""]}`, `{"a":null}`, false},
		{"empty string vs missing", `{"a":[""]}`, `{}`, false},
		{"integer", `{"n":[300]}`, `{"n":300}`, true},
		{"300 matches 300.0", `{"n":[300]}`, `{"n":300.0}`, true},
		{"300.0 matches 300", `{"n":[300.0]}`, `{"n":300}`, true},
		{"300 matches 3e2", `{"n":[300]}`, `{"n":3e2}`, true},
		{"negative zero", `{"n":[0]}`, `{"n":-0.0}`, true},
		{"number mismatch", `{"n":[300]}`, `{"n":300.5}`, false},
		{"number vs string", `{"n":[300]}`, `{"n":"300"}`, false},
		{"string vs number", `{"n":["300"]}`, `{"n":300}`, false},
		{"large account id", `{"n":[123456789012]}`, `{"n":123456789012}`, true},
		{"event number beyond float64", `{"n":[1]}`, `{"n":1e400}`, false},
		{"true", `{"b":[true]}`, `{"b":true}`, true},
		{"true vs false", `{"b":[true]}`, `{"b":false}`, false},
		{"false", `{"b":[false]}`, `{"b":false}`, true},
		{"true vs string", `{"b":[true]}`, `{"b":"true"}`, false},
		{"null", `{"n":[null]}`, `{"n":null}`, true},
		{"null vs missing", `{"n":[null]}`, `{}`, false},
		{"null vs string", `{"n":[null]}`, `{"n":"null"}`, false},
		{"null vs empty string", `{"n":[null]}`, `{"n":""}`, false},
		{"mixed types", `{"v":["x",1,true,null]}`, `{"v":true}`, true},
		{"leaf pattern vs object", `{"a":["x"]}`, `{"a":{"x":"x"}}`, false},
		{"duplicate key, last wins", `{"source":["aws.ec2"],"source":["aws.acm"]}`, `{"source":"aws.acm"}`, true},
		{"dotted key is one field", `{"detail.state":["x"]}`, `{"detail.state":"x"}`, true},
		{"dotted key is not a path", `{"detail.state":["x"]}`, `{"detail":{"state":"x"}}`, false},
	})
}

func TestEventArrays(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"any element", `{"r":["b"]}`, `{"r":["a","b","c"]}`, true},
		{"no element", `{"r":["z"]}`, `{"r":["a","b"]}`, false},
		{"intersection", `{"r":["z","b"]}`, `{"r":["a","b"]}`, true},
		{"empty event array", `{"r":["a"]}`, `{"r":[]}`, false},
		{"nested arrays flattened", `{"r":["c"]}`, `{"r":["a",["b",["c"]]]}`, true},
		{"numbers in array", `{"r":[2]}`, `{"r":[1,2.0,3]}`, true},
		{"null in array", `{"r":[null]}`, `{"r":["a",null]}`, true},
		{"objects in array are not leaves", `{"r":["a"]}`, `{"r":[{"a":"a"}]}`, false},
		{"prefix on array", `{"r":[{"prefix":"arn:"}]}`, `{"r":["x","arn:y"]}`, true},
		{"numeric on array", `{"r":[{"numeric":["<",5]}]}`, `{"r":[10,20,3]}`, true},
		{"numeric on array, none", `{"r":[{"numeric":["<",5]}]}`, `{"r":[10,20]}`, false},
		{"array of objects", `{"items":{"name":["b"]}}`, `{"items":[{"name":"a"},{"name":"b"}]}`, true},
		{"array of objects, none", `{"items":{"name":["z"]}}`, `{"items":[{"name":"a"},{"name":"b"}]}`, false},
		{"fields from one element", `{"items":{"name":["a"],"qty":[1]}}`, `{"items":[{"name":"a","qty":1}]}`, true},
		{"fields from different elements", `{"items":{"name":["a"],"qty":[1]}}`,
			`{"items":[{"name":"a","qty":2},{"name":"b","qty":1}]}`, false},
		{"nested arrays of objects", `{"items":{"name":["b"]}}`, `{"items":[[{"name":"a"}],[[{"name":"b"}]]]}`, true},
		{"array without objects vs nested pattern", `{"items":{"name":["a"]}}`, `{"items":["a"]}`, false},
	})
}

func TestNestedPaths(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"two levels", `{"detail":{"state":["running"]}}`, `{"detail":{"state":"running"}}`, true},
		{"two levels mismatch", `{"detail":{"state":["running"]}}`, `{"detail":{"state":"stopped"}}`, false},
		{"deep", `{"a":{"b":{"c":{"d":[1]}}}}`, `{"a":{"b":{"c":{"d":1,"e":2}}}}`, true},
		{"deep missing", `{"a":{"b":{"c":{"d":[1]}}}}`, `{"a":{"b":{}}}`, false},
		{"parent missing", `{"detail":{"state":["x"]}}`, `{"source":"x"}`, false},
		{"parent is a scalar", `{"detail":{"state":["x"]}}`, `{"detail":"x"}`, false},
		{"parent is null", `{"detail":{"state":["x"]}}`, `{"detail":null}`, false},
		{"same name at another level", `{"detail":{"source":["x"]}}`, `{"source":"x","detail":{}}`, false},
		{"sibling objects", `{"a":{"x":[1]},"b":{"y":[2]}}`, `{"a":{"x":1},"b":{"y":2}}`, true},
		{"macie example", `{"source":["aws.macie"],"detail":{"risk-score":[80],"trigger":{"risk":[8]}}}`,
			`{"source":"aws.macie","detail":{"risk-score":80,"trigger":{"risk":8,"alert-type":"basic"}}}`, true},
	})
}

func TestPrefixSuffixEqualsIgnoreCase(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"prefix", `{"a":[{"prefix":"us-"}]}`, `{"a":"us-east-1"}`, true},
		{"prefix no", `{"a":[{"prefix":"us-"}]}`, `{"a":"eu-west-1"}`, false},
		{"prefix is case sensitive", `{"a":[{"prefix":"us-"}]}`, `{"a":"US-EAST-1"}`, false},
		{"prefix longer than value", `{"a":[{"prefix":"us-east-1a"}]}`, `{"a":"us-east-1"}`, false},
		{"empty prefix", `{"a":[{"prefix":""}]}`, `{"a":"anything"}`, true},
		{"prefix vs number", `{"a":[{"prefix":"1"}]}`, `{"a":12}`, false},
		{"prefix vs missing", `{"a":[{"prefix":""}]}`, `{}`, false},
		{"prefix ignore case", `{"a":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"a":"eventbridge"}`, true},
		{"prefix ignore case no", `{"a":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"a":"eventa"}`, false},
		{"prefix ignore case short", `{"a":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"a":"Even"}`, false},
		{"prefix ignore case Kelvin sign", `{"a":[{"prefix":{"equals-ignore-case":"k"}}]}`, `{"a":"\u212Aelvin"}`, true},
		{"prefix ignore case multibyte", `{"a":[{"prefix":{"equals-ignore-case":"ÄB"}}]}`, `{"a":"äbc"}`, true},
		{"suffix", `{"f":[{"suffix":".png"}]}`, `{"f":"img/cat.png"}`, true},
		{"suffix no", `{"f":[{"suffix":".png"}]}`, `{"f":"img/cat.PNG"}`, false},
		{"suffix vs bool", `{"f":[{"suffix":"e"}]}`, `{"f":true}`, false},
		{"suffix ignore case", `{"f":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"f":"img/cat.PnG"}`, true},
		{"suffix ignore case no", `{"f":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"f":"img/cat.jpg"}`, false},
		{"suffix ignore case Kelvin sign", `{"f":[{"suffix":{"equals-ignore-case":"\u212A"}}]}`, `{"f":"desk"}`, true},
		{"equals-ignore-case", `{"n":[{"equals-ignore-case":"Alice"}]}`, `{"n":"aLICE"}`, true},
		{"equals-ignore-case no", `{"n":[{"equals-ignore-case":"Alice"}]}`, `{"n":"Alicia"}`, false},
		{"equals-ignore-case vs number", `{"n":[{"equals-ignore-case":"1"}]}`, `{"n":1}`, false},
		{"equals-ignore-case array", `{"n":[{"equals-ignore-case":"bob"}]}`, `{"n":["alice","BOB"]}`, true},
		{"or with exact", `{"n":["carol",{"equals-ignore-case":"bob"}]}`, `{"n":"carol"}`, true},
	})
}

func TestAnythingBut(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"string", `{"s":[{"anything-but":"init"}]}`, `{"s":"running"}`, true},
		{"string excluded", `{"s":[{"anything-but":"init"}]}`, `{"s":"init"}`, false},
		{"string vs missing", `{"s":[{"anything-but":"init"}]}`, `{}`, false},
		{"string vs null", `{"s":[{"anything-but":"init"}]}`, `{"s":null}`, true},
		{"string vs number", `{"s":[{"anything-but":"5"}]}`, `{"s":5}`, true},
		{"string vs object", `{"s":[{"anything-but":"init"}]}`, `{"s":{"a":1}}`, false},
		{"string vs empty array", `{"s":[{"anything-but":"init"}]}`, `{"s":[]}`, false},
		{"string list", `{"s":[{"anything-but":["stopped","overloaded"]}]}`, `{"s":"running"}`, true},
		{"string list excluded", `{"s":[{"anything-but":["stopped","overloaded"]}]}`, `{"s":"overloaded"}`, false},
		{"event array with other value", `{"s":[{"anything-but":"a"}]}`, `{"s":["a","b"]}`, true},
		{"event array all excluded", `{"s":[{"anything-but":["a","b"]}]}`, `{"s":["a","b"]}`, false},
		{"number", `{"x":[{"anything-but":123}]}`, `{"x":124}`, true},
		{"number excluded", `{"x":[{"anything-but":123}]}`, `{"x":123.0}`, false},
		{"number vs string", `{"x":[{"anything-but":123}]}`, `{"x":"123"}`, true},
		{"number list", `{"x":[{"anything-but":[100,200,300]}]}`, `{"x":250}`, true},
		{"number list excluded", `{"x":[{"anything-but":[100,200,300]}]}`, `{"x":3e2}`, false},
		{"prefix", `{"s":[{"anything-but":{"prefix":"init"}}]}`, `{"s":"running"}`, true},
		{"prefix excluded", `{"s":[{"anything-but":{"prefix":"init"}}]}`, `{"s":"initializing"}`, false},
		{"prefix vs number", `{"s":[{"anything-but":{"prefix":"1"}}]}`, `{"s":12}`, true},
		{"prefix list", `{"s":[{"anything-but":{"prefix":["us-","eu-"]}}]}`, `{"s":"eu-west-1"}`, false},
		{"suffix", `{"f":[{"anything-but":{"suffix":".txt"}}]}`, `{"f":"a.png"}`, true},
		{"suffix excluded", `{"f":[{"anything-but":{"suffix":".txt"}}]}`, `{"f":"a.txt"}`, false},
		{"ignore case", `{"s":[{"anything-but":{"equals-ignore-case":["a","b"]}}]}`, `{"s":"c"}`, true},
		{"ignore case excluded", `{"s":[{"anything-but":{"equals-ignore-case":["a","b"]}}]}`, `{"s":"B"}`, false},
		{"ignore case single", `{"s":[{"anything-but":{"equals-ignore-case":"Init"}}]}`, `{"s":"INIT"}`, false},
		{"wildcard", `{"p":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"p":"/usr/bin/x"}`, true},
		{"wildcard excluded", `{"p":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"p":"/usr/lib/x"}`, false},
		{"wildcard txt", `{"p":[{"anything-but":{"wildcard":"*.txt"}}]}`, `{"p":"notes.txt"}`, false},
		{"or with exact", `{"s":["init",{"anything-but":{"prefix":"init"}}]}`, `{"s":"init"}`, true},
	})
}

func TestNumeric(t *testing.T) {
	const rng = `{"c":[{"numeric":[">",0,"<=",5]}]}`
	runMatchCases(t, []matchCase{
		{"inside", rng, `{"c":3}`, true},
		{"fraction", rng, `{"c":0.5}`, true},
		{"upper inclusive", rng, `{"c":5}`, true},
		{"upper inclusive 5.0", rng, `{"c":5.0}`, true},
		{"above", rng, `{"c":5.000001}`, false},
		{"lower exclusive", rng, `{"c":0}`, false},
		{"below", rng, `{"c":-1}`, false},
		{"string number", rng, `{"c":"3"}`, false},
		{"bool", rng, `{"c":true}`, false},
		{"null", rng, `{"c":null}`, false},
		{"missing", rng, `{}`, false},
		{"reversed pair order", `{"c":[{"numeric":["<=",5,">",0]}]}`, `{"c":5}`, true},
		{"less than", `{"d":[{"numeric":["<",10]}]}`, `{"d":9.999}`, true},
		{"less than boundary", `{"d":[{"numeric":["<",10]}]}`, `{"d":10}`, false},
		{"less than negative", `{"d":[{"numeric":["<",-10]}]}`, `{"d":-10.5}`, true},
		{"at least", `{"d":[{"numeric":[">=",10]}]}`, `{"d":10}`, true},
		{"at least below", `{"d":[{"numeric":[">=",10]}]}`, `{"d":9}`, false},
		{"greater", `{"d":[{"numeric":[">",10]}]}`, `{"d":1e3}`, true},
		{"equals exponent", `{"x":[{"numeric":["=",3.018e2]}]}`, `{"x":301.8}`, true},
		{"equals no", `{"x":[{"numeric":["=",3.018e2]}]}`, `{"x":301.9}`, false},
		{"six decimals", `{"x":[{"numeric":[">",1.000001]}]}`, `{"x":1.000002}`, true},
		{"limits of AWS range", `{"x":[{"numeric":[">=",-5e9,"<=",5e9]}]}`, `{"x":4999999999.999999}`, true},
		{"beyond AWS range", `{"x":[{"numeric":[">",5e9]}]}`, `{"x":5000000000.5}`, true},
		{"infinite event number", `{"x":[{"numeric":[">",5e9]}]}`, `{"x":1e400}`, true},
		{"two ranges OR", `{"x":[{"numeric":["<",0]},{"numeric":[">",100]}]}`, `{"x":101}`, true},
		{"two ranges OR gap", `{"x":[{"numeric":["<",0]},{"numeric":[">",100]}]}`, `{"x":50}`, false},
		{"numeric and exact", `{"x":[7,{"numeric":[">",100]}]}`, `{"x":7.0}`, true},
	})
}

func TestExists(t *testing.T) {
	const yes, no = `{"a":[{"exists":true}]}`, `{"a":[{"exists":false}]}`
	runMatchCases(t, []matchCase{
		{"true: string", yes, `{"a":"x"}`, true},
		{"true: empty string", yes, `{"a":""}`, true},
		{"true: null", yes, `{"a":null}`, true},
		{"true: number", yes, `{"a":0}`, true},
		{"true: array", yes, `{"a":[1]}`, true},
		{"true: missing", yes, `{"b":"x"}`, false},
		{"true: empty array", yes, `{"a":[]}`, false},
		{"true: object is not a leaf", yes, `{"a":{"b":1}}`, false},
		{"false: missing", no, `{"b":"x"}`, true},
		{"false: present", no, `{"a":"x"}`, false},
		{"false: null", no, `{"a":null}`, false},
		{"false: empty array", no, `{"a":[]}`, true},
		{"false: object is not a leaf", no, `{"a":{"b":1}}`, true},
		{"false: nested", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":{"state":"x"}}`, true},
		{"false: nested, AWS doc example", `{"detail":{"c-count":[{"exists":false}]}}`,
			`{"detail":{"state":["initializing","running"],"c-count":{"c1":100}}}`, true},
		{"false: parent missing", `{"detail":{"c-count":[{"exists":false}]}}`, `{"source":"x"}`, true},
		{"false: parent scalar", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":"x"}`, true},
		{"false: parent array without objects", `{"items":{"id":[{"exists":false}]}}`, `{"items":["a",1]}`, true},
		{"false: parent empty array", `{"items":{"id":[{"exists":false}]}}`, `{"items":[]}`, true},
		{"false: nested array of objects", `{"items":{"id":[{"exists":false}]}}`, `{"items":[[{"id":1}]]}`, false},
		{"false: one array element lacks it", `{"items":{"id":[{"exists":false}]}}`, `{"items":[{"id":1},{"name":"x"}]}`, true},
		{"false: every array element has it", `{"items":{"id":[{"exists":false}]}}`, `{"items":[{"id":1},{"id":2}]}`, false},
		{"false combined with AND", `{"s":["x"],"a":[{"exists":false}]}`, `{"s":"x"}`, true},
		{"false or value", `{"a":["x",{"exists":false}]}`, `{"a":"x"}`, true},
		{"false or value, other", `{"a":["x",{"exists":false}]}`, `{"a":"y"}`, false},
		{"true or false", `{"a":[{"exists":true},{"exists":false}]}`, `{"a":{"b":1}}`, true},
	})
}

func TestCIDR(t *testing.T) {
	const v4, v6 = `{"ip":[{"cidr":"10.0.0.0/24"}]}`, `{"ip":[{"cidr":"2001:db8::/32"}]}`
	runMatchCases(t, []matchCase{
		{"v4 inside", v4, `{"ip":"10.0.0.5"}`, true},
		{"v4 first", v4, `{"ip":"10.0.0.0"}`, true},
		{"v4 last", v4, `{"ip":"10.0.0.255"}`, true},
		{"v4 outside", v4, `{"ip":"10.0.1.5"}`, false},
		{"v4 not an IP", v4, `{"ip":"10.0.0.x"}`, false},
		{"v4 with port", v4, `{"ip":"10.0.0.5:443"}`, false},
		{"v4 number", v4, `{"ip":10}`, false},
		{"v4 mapped v6", v4, `{"ip":"::ffff:10.0.0.5"}`, true},
		{"v4 vs v6 address", v4, `{"ip":"2001:db8::1"}`, false},
		{"v4 array", v4, `{"ip":["192.168.0.1","10.0.0.9"]}`, true},
		{"v6 inside", v6, `{"ip":"2001:db8:1::1"}`, true},
		{"v6 outside", v6, `{"ip":"2001:db9::1"}`, false},
		{"v6 vs v4 address", v6, `{"ip":"10.0.0.1"}`, false},
		{"v6 zoned address", `{"ip":[{"cidr":"fe80::/10"}]}`, `{"ip":"fe80::1%eth0"}`, true},
		{"single host", `{"ip":[{"cidr":"192.168.1.1"}]}`, `{"ip":"192.168.1.1"}`, true},
		{"single host other", `{"ip":[{"cidr":"192.168.1.1"}]}`, `{"ip":"192.168.1.2"}`, false},
		{"host bits ignored", `{"ip":[{"cidr":"10.0.0.7/24"}]}`, `{"ip":"10.0.0.200"}`, true},
		{"slash zero", `{"ip":[{"cidr":"0.0.0.0/0"}]}`, `{"ip":"203.0.113.9"}`, true},
	})
}

func TestWildcard(t *testing.T) {
	const png = `{"f":[{"wildcard":"dir/*.png"}]}`
	runMatchCases(t, []matchCase{
		{"match", png, `{"f":"dir/cat.png"}`, true},
		{"star spans slashes", png, `{"f":"dir/a/b/cat.png"}`, true},
		{"star matches nothing", png, `{"f":"dir/.png"}`, true},
		{"wrong extension", png, `{"f":"dir/cat.jpg"}`, false},
		{"wrong dir", png, `{"f":"other/cat.png"}`, false},
		{"too short", png, `{"f":"dir/png"}`, false},
		{"case sensitive", png, `{"f":"DIR/cat.png"}`, false},
		{"number", `{"f":[{"wildcard":"*"}]}`, `{"f":5}`, false},
		{"star alone, empty", `{"f":[{"wildcard":"*"}]}`, `{"f":""}`, true},
		{"star alone", `{"f":[{"wildcard":"*"}]}`, `{"f":"anything"}`, true},
		{"no star is exact", `{"f":[{"wildcard":"abc"}]}`, `{"f":"abc"}`, true},
		{"no star is exact, no", `{"f":[{"wildcard":"abc"}]}`, `{"f":"abcd"}`, false},
		{"several stars", `{"f":[{"wildcard":"a*b*c"}]}`, `{"f":"aXXbYYc"}`, true},
		{"several stars adjacent literals", `{"f":[{"wildcard":"a*b*c"}]}`, `{"f":"abc"}`, true},
		{"several stars wrong order", `{"f":[{"wildcard":"a*b*c"}]}`, `{"f":"acb"}`, false},
		{"each segment consumes text", `{"f":[{"wildcard":"a*b*b*c"}]}`, `{"f":"abc"}`, false},
		{"each segment consumes text, twice", `{"f":[{"wildcard":"a*b*b*c"}]}`, `{"f":"abbc"}`, true},
		{"overlapping prefix and suffix", `{"f":[{"wildcard":"ab*ba"}]}`, `{"f":"aba"}`, false},
		{"repeated segment", `{"f":[{"wildcard":"*ab*ab"}]}`, `{"f":"xabyab"}`, true},
		{"repeated segment, once only", `{"f":[{"wildcard":"*ab*ab"}]}`, `{"f":"xab"}`, false},
		{"contains", `{"f":[{"wildcard":"*Title*"}]}`, `{"f":"The Title Page"}`, true},
		{"escaped star", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"a*b"}`, true},
		{"escaped star is literal", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"aXb"}`, false},
		{"escaped backslash then star", `{"f":[{"wildcard":"a\\\\*"}]}`, `{"f":"a\\xyz"}`, true},
		{"escaped backslash required", `{"f":[{"wildcard":"a\\\\*"}]}`, `{"f":"axyz"}`, false},
		{"escaped star then star", `{"f":[{"wildcard":"\\**"}]}`, `{"f":"*abc"}`, true},
		{"escaped star then star, no star", `{"f":[{"wildcard":"\\**"}]}`, `{"f":"abc"}`, false},
		{"unicode", `{"f":[{"wildcard":"日*語"}]}`, `{"f":"日本語"}`, true},
		{"event array", png, `{"f":["x.png","dir/y.png"]}`, true},
	})
}

func TestOr(t *testing.T) {
	const twoSources = `{"$or":[{"source":["aws.ec2"]},{"source":["aws.s3"]}]}`
	runMatchCases(t, []matchCase{
		{"first alternative", twoSources, `{"source":"aws.ec2"}`, true},
		{"second alternative", twoSources, `{"source":"aws.s3"}`, true},
		{"neither", twoSources, `{"source":"my.app"}`, false},
		{"different fields", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"b":"2"}`, true},
		{"different fields, neither", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"a":"2","b":"1"}`, false},
		{"AND with fields", `{"source":["aws.acm"],"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"source":"aws.acm","a":"1"}`, true},
		{"AND with fields fails", `{"source":["aws.acm"],"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"source":"aws.ec2","a":"1"}`, false},
		{"inside detail", `{"detail":{"$or":[{"c":[{"numeric":[">",10]}]},{"d":[{"numeric":["<",0]}]}]}}`,
			`{"detail":{"c":5,"d":-1}}`, true},
		{"inside detail, neither", `{"detail":{"$or":[{"c":[{"numeric":[">",10]}]},{"d":[{"numeric":["<",0]}]}]}}`,
			`{"detail":{"c":5,"d":1}}`, false},
		{"alternative with nested object", `{"$or":[{"detail":{"x":["1"]}},{"source":["s"]}]}`, `{"detail":{"x":"1"}}`, true},
		{"nested $or", `{"$or":[{"a":["1"]},{"$or":[{"b":["2"]},{"c":["3"]}]}]}`, `{"c":"3"}`, true},
		{"nested $or, none", `{"$or":[{"a":["1"]},{"$or":[{"b":["2"]},{"c":["3"]}]}]}`, `{"d":"4"}`, false},
		{"$or inside alternative with AND", `{"$or":[{"a":["1"],"$or":[{"b":["2"]},{"c":["3"]}]},{"d":["4"]}]}`,
			`{"a":"1","c":"3"}`, true},
		{"$or inside alternative with AND fails", `{"$or":[{"a":["1"],"$or":[{"b":["2"]},{"c":["3"]}]},{"d":["4"]}]}`,
			`{"a":"1","e":"3"}`, false},
		{"exists false alternative", `{"$or":[{"a":[{"exists":false}]},{"a":["x"]}]}`, `{}`, true},
		{"three alternatives", `{"$or":[{"a":["1"]},{"a":["2"]},{"a":["3"]}]}`, `{"a":"3"}`, true},
		{"in array element", `{"items":{"$or":[{"a":["1"]},{"b":["2"]}]}}`, `{"items":[{"a":"0"},{"b":"2"}]}`, true},
		{"ACM expiring soon or expired", `{"source":["aws.acm"],"$or":[` +
			`{"detail-type":["ACM Certificate Expired"]},` +
			`{"detail":{"DaysToExpiry":[{"numeric":["<=",31]}]}}]}`, acmEvent, true},
	})
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		pattern string
		path    string
		msg     string
	}{
		// The pattern as a whole.
		{``, "", "not valid JSON"},
		{`{`, "", "not valid JSON"},
		{`{"a":["x"]} {}`, "", "unexpected data"},
		{`{"a":["x"]}]`, "", "not valid JSON"},
		{`[]`, "", "must be a JSON object"},
		{`"source"`, "", "must be a JSON object"},
		{`null`, "", "must be a JSON object"},
		{`{}`, "", "empty objects are not allowed"},
		// Structure.
		{`{"source":"aws.acm"}`, "source", "must be an object or an array"},
		{`{"source":5}`, "source", "must be an object or an array"},
		{`{"source":null}`, "source", "must be an object or an array"},
		{`{"source":true}`, "source", "must be an object or an array"},
		{`{"source":[]}`, "source", "empty arrays are not allowed"},
		{`{"detail":{}}`, "detail", "empty objects are not allowed"},
		{`{"detail":{"state":"x"}}`, "detail.state", "must be an object or an array"},
		{`{"detail":{"state":[["x"]]}}`, "detail.state", "match values must be"},
		{`{"a":[1e400]}`, "a", "number 1e400 is out of range"},
		{`{"a":"x","b":"y"}`, "a", "must be an object or an array"},
		// Content filters.
		{`{"detail":{"state":[{}]}}`, "detail.state", "exactly one key, found 0"},
		{`{"detail":{"state":[{"prefix":"a","suffix":"b"}]}}`, "detail.state", "exactly one key, found 2"},
		{`{"detail":{"state":[{"contains":"a"}]}}`, "detail.state", `unknown content filter "contains"`},
		{`{"detail":{"state":[{"Prefix":"a"}]}}`, "detail.state", `unknown content filter "Prefix"`},
		{`{"detail":{"state":[{"prefix":5}]}}`, "detail.state", `"prefix" must be a string`},
		{`{"a":[{"prefix":["x"]}]}`, "a", `"prefix" must be a string`},
		{`{"a":[{"prefix":{"foo":"x"}}]}`, "a", `"prefix" object must be {"equals-ignore-case": string}`},
		{`{"a":[{"prefix":{"equals-ignore-case":5}}]}`, "a", `"prefix" object must be`},
		{`{"a":[{"suffix":null}]}`, "a", `"suffix" must be a string`},
		{`{"a":[{"suffix":{"equals-ignore-case":"x","prefix":"y"}}]}`, "a", `"suffix" object must be`},
		{`{"a":[{"equals-ignore-case":["x"]}]}`, "a", `"equals-ignore-case" must be a string`},
		{`{"a":[{"exists":"true"}]}`, "a", `"exists" must be true or false`},
		{`{"a":[{"exists":null}]}`, "a", `"exists" must be true or false`},
		// anything-but.
		{`{"a":[{"anything-but":true}]}`, "a", `"anything-but" must be a string, a number, an array or an object`},
		{`{"a":[{"anything-but":null}]}`, "a", `"anything-but" must be`},
		{`{"a":[{"anything-but":[]}]}`, "a", `"anything-but" array must not be empty`},
		{`{"a":[{"anything-but":["x",1]}]}`, "a", "only strings or only numbers"},
		{`{"a":[{"anything-but":[1,"x"]}]}`, "a", "only strings or only numbers"},
		{`{"a":[{"anything-but":[true]}]}`, "a", "only strings or only numbers"},
		{`{"a":[{"anything-but":[1e999]}]}`, "a", "out of range"},
		{`{"a":[{"anything-but":{}}]}`, "a", `"anything-but" object must have exactly one of`},
		{`{"a":[{"anything-but":{"prefix":"x","suffix":"y"}}]}`, "a", `"anything-but" object must have exactly one of`},
		{`{"a":[{"anything-but":{"numeric":[">",1]}}]}`, "a", `"anything-but" does not support "numeric"`},
		{`{"a":[{"anything-but":{"exists":true}}]}`, "a", `"anything-but" does not support "exists"`},
		{`{"a":[{"anything-but":{"prefix":5}}]}`, "a", `"anything-but" "prefix" must be a string or a non-empty array of strings`},
		{`{"a":[{"anything-but":{"prefix":[]}}]}`, "a", `"anything-but" "prefix" must be`},
		{`{"a":[{"anything-but":{"suffix":["x",1]}}]}`, "a", `"anything-but" "suffix" must be`},
		{`{"a":[{"anything-but":{"prefix":{"equals-ignore-case":"x"}}}]}`, "a", `"anything-but" "prefix" must be`},
		{`{"a":[{"anything-but":{"wildcard":"a**"}}]}`, "a", "consecutive wildcard characters"},
		// numeric.
		{`{"a":[{"numeric":"5"}]}`, "a", `"numeric" must be an array of one or two operator/number pairs`},
		{`{"a":[{"numeric":[]}]}`, "a", `"numeric" must be an array`},
		{`{"a":[{"numeric":[">"]}]}`, "a", `"numeric" must be an array`},
		{`{"a":[{"numeric":[">",1,"<"]}]}`, "a", `"numeric" must be an array`},
		{`{"a":[{"numeric":[">",1,"<",5,"=",3]}]}`, "a", `"numeric" must be an array`},
		{`{"a":[{"numeric":["==",1]}]}`, "a", `unknown operator "=="`},
		{`{"a":[{"numeric":["!=",1]}]}`, "a", `unknown operator "!="`},
		{`{"a":[{"numeric":[">","1"]}]}`, "a", `operand of ">" must be a number`},
		{`{"a":[{"numeric":[">",null]}]}`, "a", `operand of ">" must be a number`},
		{`{"a":[{"numeric":[1,">"]}]}`, "a", "expected an operator string at position 0"},
		{`{"a":[{"numeric":[">",1,">=",2]}]}`, "a", "more than one lower bound"},
		{`{"a":[{"numeric":["<",1,"<=",2]}]}`, "a", "more than one upper bound"},
		{`{"a":[{"numeric":[">",6,"<",5]}]}`, "a", "lower bound must be less than the upper bound"},
		{`{"a":[{"numeric":[">=",5,"<=",5]}]}`, "a", "lower bound must be less than the upper bound"},
		{`{"a":[{"numeric":["=",1,"<",2]}]}`, "a", `"=" cannot be combined`},
		{`{"a":[{"numeric":["<",2,"=",1]}]}`, "a", `"=" cannot be combined`},
		{`{"a":[{"numeric":[">",1e400]}]}`, "a", "out of range"},
		// cidr.
		{`{"ip":[{"cidr":5}]}`, "ip", `"cidr" must be a string`},
		{`{"ip":[{"cidr":"banana"}]}`, "ip", `"cidr": "banana" is not an IP address or CIDR prefix`},
		{`{"ip":[{"cidr":"10.0.0.0/33"}]}`, "ip", "is not an IP address or CIDR prefix"},
		{`{"ip":[{"cidr":"10.0.0/24"}]}`, "ip", "is not an IP address or CIDR prefix"},
		{`{"ip":[{"cidr":"2001:db8::/129"}]}`, "ip", "is not an IP address or CIDR prefix"},
		{`{"ip":[{"cidr":"fe80::1%eth0"}]}`, "ip", "is not an IP address or CIDR prefix"},
		{`{"ip":[{"cidr":""}]}`, "ip", "is not an IP address or CIDR prefix"},
		// wildcard.
		{`{"f":[{"wildcard":5}]}`, "f", `"wildcard" must be a string`},
		{`{"f":[{"wildcard":"a**b"}]}`, "f", `consecutive wildcard characters ("**") are not allowed`},
		{`{"f":[{"wildcard":"**"}]}`, "f", "consecutive wildcard characters"},
		{`{"f":[{"wildcard":"a\\b"}]}`, "f", `invalid escape "\b"`},
		{`{"f":[{"wildcard":"a\\é"}]}`, "f", `invalid escape "\é"`},
		{`{"f":[{"wildcard":"a\\"}]}`, "f", "trailing backslash"},
		// $or.
		{`{"$or":"x"}`, "$or", "must be an array of at least 2 pattern objects"},
		{`{"$or":[]}`, "$or", "must be an array of at least 2 pattern objects"},
		{`{"$or":[{"a":["x"]}]}`, "$or", "must be an array of at least 2 pattern objects"},
		{`{"$or":[{"a":["x"]},"b"]}`, "$or[1]", "must be a pattern object"},
		{`{"$or":[["x"],{"a":["x"]}]}`, "$or[0]", "must be a pattern object"},
		{`{"$or":[{"a":["x"]},{}]}`, "$or[1]", "empty objects are not allowed"},
		{`{"detail":{"$or":[{"a":["x"]},{"b":"y"}]}}`, "detail.$or[1].b", "must be an object or an array"},
		{`{"detail":{"$or":[{"s":[{"prefix":1}]},{"b":["y"]}]}}`, "detail.$or[0].s", `"prefix" must be a string`},
		{`{"$or":[{"a":["x"]},{"$or":[{"b":["y"]}]}]}`, "$or[1].$or", "at least 2"},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			p, err := Compile(c.pattern)
			if err == nil {
				t.Fatalf("Compile(%s) = %v, want an error", c.pattern, p)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if se.Path != c.path {
				t.Errorf("path = %q, want %q (error: %v)", se.Path, c.path, err)
			}
			if !strings.Contains(se.Msg, c.msg) {
				t.Errorf("message = %q, want it to contain %q", se.Msg, c.msg)
			}
			wantPrefix := c.path + ": "
			if c.path == "" {
				wantPrefix = "event pattern: "
			}
			if !strings.HasPrefix(err.Error(), wantPrefix) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), wantPrefix)
			}
		})
	}
}

func TestSyntaxErrorText(t *testing.T) {
	_, err := Compile(`{"detail":{"state":[{"prefix":5}]}}`)
	if got, want := err.Error(), `detail.state: "prefix" must be a string`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = Compile(`{"source":"aws.acm"}`)
	if got, want := err.Error(), `source: must be an object or an array`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = Compile(`[]`)
	if got, want := err.Error(), `event pattern: must be a JSON object`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestInvalidEvents(t *testing.T) {
	p, err := Compile(`{"a":[{"exists":false}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{``, ` `, `[]`, `"x"`, `1`, `null`, `true`, `{`, `{"a":}`, `{} {}`, `{}x`, `[{}]`} {
		if got, err := p.Matches([]byte(ev)); err == nil || got {
			t.Errorf("Matches(%q) = %v, %v; want an error", ev, got, err)
		} else if !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Matches(%q) error %v does not wrap ErrInvalidEvent", ev, err)
		}
		if _, err := Decode([]byte(ev)); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Decode(%q) error = %v, want ErrInvalidEvent", ev, err)
		}
	}
	if got, err := p.Matches([]byte(" {} \n")); err != nil || !got {
		t.Errorf("Matches(empty object with whitespace) = %v, %v; want true, nil", got, err)
	}
}

func TestZeroValues(t *testing.T) {
	var nilPattern *Pattern
	if nilPattern.Match(Event{}) {
		t.Error("nil pattern matched")
	}
	if (&Pattern{}).Match(Event{}) {
		t.Error("zero pattern matched")
	}
	p, err := Compile(`{"a":[{"exists":false}],"b":{"c":[{"exists":false}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Match(Event{}) {
		t.Error("zero Event should behave as an empty object")
	}
}

// TestEventNotModified checks that matching leaves the decoded event alone,
// which is what makes sharing one Event between goroutines safe.
func TestEventNotModified(t *testing.T) {
	e, err := Decode([]byte(`{"a":[1,{"b":2}],"c":{"d":[3.5]}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(`{"a":{"b":[2]},"c":{"d":[{"numeric":[">",3]}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !p.Match(e) {
			t.Fatal("no match")
		}
	}
	if got := e.fields["c"].(map[string]any)["d"].([]any)[0]; got != 3.5 {
		t.Errorf("event changed: %v", got)
	}
}

func TestConcurrentMatch(t *testing.T) {
	p, err := Compile(benchPattern)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Decode([]byte(acmEvent))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if !p.Match(e) {
					errs <- "concurrent Match returned false"
					return
				}
				if ok, err := p.Matches([]byte(acmEvent)); !ok || err != nil {
					errs <- "concurrent Matches failed"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// TestPathologicalWildcard guards against exponential backtracking: with a
// naive recursive matcher this pattern against a long run of "a" takes
// astronomically long.
func TestPathologicalWildcard(t *testing.T) {
	p, err := Compile(`{"f":[{"wildcard":"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Decode([]byte(`{"f":"` + strings.Repeat("a", 100000) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Match(e) {
		t.Error("matched a string without b")
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	p, err := Compile(`{"source":["aws.acm"],"resources":[{"prefix":"arn:"}],` +
		`"detail":{"DaysToExpiry":[{"numeric":[">",0,"<=",45]}],"CommonName":[{"wildcard":"*.internal"}],` +
		`"Missing":[{"exists":false}],"$or":[{"CommonName":[{"equals-ignore-case":"APP.INTERNAL"}]},{"x":["y"]}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Decode([]byte(acmEvent))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Match(e) {
		t.Fatal("no match")
	}
	if n := testing.AllocsPerRun(100, func() { p.Match(e) }); n != 0 {
		t.Errorf("Match allocates %v times per call", n)
	}
}

// TestFoldInvalidUTF8 covers bytes that are not UTF-8, which cannot come
// from JSON (the decoder replaces them) but must still compare sanely.
func TestFoldInvalidUTF8(t *testing.T) {
	cases := []struct {
		s, affix       string
		prefix, suffix bool
	}{
		{"\xffabc", "\xff", true, false},
		{"\xffabc", "\xfe", false, false},
		{"abc\xff", "\xfe", false, false},
		{"abc\xff", "C\xff", false, true},
		{"\xff", "\uFFFD", false, false},
		{"K\u212A", "kk", true, true},
		{"ab", "abc", false, false},
	}
	for _, c := range cases {
		if got := hasPrefixFold(c.s, c.affix); got != c.prefix {
			t.Errorf("hasPrefixFold(%q, %q) = %v", c.s, c.affix, got)
		}
		if got := hasSuffixFold(c.s, c.affix); got != c.suffix {
			t.Errorf("hasSuffixFold(%q, %q) = %v", c.s, c.affix, got)
		}
	}
}
