package iam

import "testing"

func TestCheckPolicyDocument(t *testing.T) {
	good := `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["secretsmanager:GetSecretValue"],"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/env":"dev"}}}]}`
	if p := CheckPolicyDocument(good, true); len(p) != 0 {
		t.Fatalf("good policy: %v", p)
	}
	for doc, check := range map[string]string{
		`nope`:                     "SYNTAX_ERROR",
		`{"Version":"2012-10-17"}`: "MISSING_FIELD",
		`{"Version":"1999","Statement":[{"Effect":"Allow","Action":"x","Resource":"*","Principal":"*"}]}`:  "INVALID_VERSION",
		`{"Statement":{"Effect":"Perhaps","Action":"x","Resource":"*","Principal":"*"}}`:                   "INVALID_EFFECT",
		`{"Statement":[{"Effect":"Allow","Resource":"*","Principal":"*"}]}`:                                "MISSING_ACTION",
		`{"Statement":[{"Effect":"Allow","Action":"x","Principal":"*"}]}`:                                  "MISSING_RESOURCE",
		`{"Statement":[{"Effect":"Allow","Action":"x","Resource":"*"}]}`:                                   "MISSING_PRINCIPAL",
		`{"Statement":[{"Effect":"Allow","Action":3,"Resource":"*","Principal":"*"}]}`:                     "SYNTAX_ERROR",
		`{"Statement":[{"Effect":"Allow","Action":"x","Resource":"*","Principal":"*","Condition":"yes"}]}`: "SYNTAX_ERROR",
		`{"Statement":[{"Effect":"Allow","Action":"x","Resource":"*","Principal":"*","Extra":1}]}`:         "SYNTAX_ERROR",
	} {
		probs := CheckPolicyDocument(doc, true)
		found := false
		for _, p := range probs {
			found = found || p.Check == check
		}
		if !found {
			t.Errorf("%s: want %s, got %v", doc, check, probs)
		}
	}
}

func TestPolicyIsPublic(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"x","Resource":"*"}]}`:                                      true,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"x","Resource":"*"}}`:        true,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"x","Resource":"*","Condition":{"Bool":{"a":"b"}}}]}`:       false,
		`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"x","Resource":"*"}]}`:                                       false,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"x","Resource":"*"}]}`: false,
	} {
		if got := PolicyIsPublic(doc); got != want {
			t.Errorf("%s: public = %v, want %v", doc, got, want)
		}
	}
}

func FuzzCheckPolicyDocument(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"x","Resource":"*"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		CheckPolicyDocument(doc, true)
		PolicyIsPublic(doc)
	})
}
