package clock

import (
	"testing"
	"time"
)

func TestOffsetAdvances(t *testing.T) {
	base := NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := NewOffset(base)
	if !o.Now().Equal(base.Now()) {
		t.Fatal("offset clock starts off base")
	}
	got := o.Advance(48 * time.Hour)
	if want := base.Now().Add(48 * time.Hour); !got.Equal(want) {
		t.Fatalf("Advance = %v, want %v", got, want)
	}
	base.Advance(time.Minute) // real time flows underneath
	if want := base.Now().Add(48 * time.Hour); !o.Now().Equal(want) {
		t.Fatalf("Now = %v, want %v", o.Now(), want)
	}
	if o.Offset() != 48*time.Hour {
		t.Fatalf("Offset = %v", o.Offset())
	}
	o.Advance(-time.Hour) // never backwards
	if want := base.Now().Add(48 * time.Hour); !o.Now().Equal(want) {
		t.Fatalf("negative advance moved the clock: %v", o.Now())
	}
}

func TestRealIsUTC(t *testing.T) {
	if (Real{}).Now().Location() != time.UTC {
		t.Fatal("Real clock not in UTC")
	}
}
