package tagging

import (
	"testing"

	"github.com/sigilhq/sigil/internal/store"
)

func TestMergeAndRemove(t *testing.T) {
	r := Rules{Max: 2, InvalidCode: "Bad", LimitCode: "Many", Noun: "thing"}
	v := func(s string) *string { return &s }
	got, err := r.Merge([]store.Tag{{Key: "b", Value: "1"}}, []Tag{{Key: "a", Value: v("x")}, {Key: "b", Value: v("2")}})
	if err != nil || len(got) != 2 || got[0].Key != "a" || got[1].Value != "2" {
		t.Fatalf("merge %v %v", got, err)
	}
	if _, err := r.Merge(got, []Tag{{Key: "c"}}); err == nil {
		t.Fatal("limit not enforced")
	}
	for _, bad := range []Tag{{Key: ""}, {Key: "aws:x"}, {Key: "a#b"}, {Key: "k", Value: v(string(make([]byte, 257)))}} {
		if _, err := r.Merge(nil, []Tag{bad}); err == nil {
			t.Fatalf("%q accepted", bad.Key)
		}
	}
	left, err := r.Remove(got, []string{"a", "zz"})
	if err != nil || len(left) != 1 || left[0].Key != "b" || len(got) != 2 {
		t.Fatalf("remove %v %v (input %v)", left, err, got)
	}
}
