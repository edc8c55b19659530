package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestWrapKeepsClassification(t *testing.T) {
	inner := Coded(Invalid, "MalformedCSR", "the CSR signature does not verify")
	wrapped := fmt.Errorf("issue: %w", inner)
	if got := Wrap(wrapped, "ignored"); got != wrapped {
		t.Fatalf("Wrap replaced a classified error: %v", got)
	}
	if KindOf(wrapped) != Invalid || CodeOf(wrapped) != "MalformedCSR" {
		t.Fatalf("KindOf/CodeOf = %v/%v", KindOf(wrapped), CodeOf(wrapped))
	}
	if Message(wrapped, "x") != "the CSR signature does not verify" {
		t.Fatalf("Message = %q", Message(wrapped, "x"))
	}
}

func TestInternalDetailNeverInMessage(t *testing.T) {
	err := Wrap(errors.New("disk /var/lib/secret exploded"), "insert certificate")
	if KindOf(err) != Internal {
		t.Fatalf("kind = %v", KindOf(err))
	}
	if got := Message(err, "internal error"); got != "internal error" {
		t.Fatalf("internal detail leaked: %q", got)
	}
	if Message(errors.New("plain"), "fallback") != "fallback" {
		t.Fatal("plain error text leaked")
	}
	if Wrap(nil, "x") != nil {
		t.Fatal("Wrap(nil) != nil")
	}
}

func TestKindString(t *testing.T) {
	for k := Internal; k <= Unavailable; k++ {
		if k.String() == "" || k.String()[0] == 'k' {
			t.Errorf("kind %d has no name", k)
		}
	}
	if Kind(200).String() != "kind(200)" {
		t.Error("unknown kind name")
	}
}
