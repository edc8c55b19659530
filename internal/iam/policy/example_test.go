package policy_test

import (
	"fmt"

	"github.com/sigilhq/sigil/internal/iam/policy"
)

func ExampleParse() {
	p, err := policy.Parse(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
	     "Resource": "arn:aws:secretsmanager:*:*:secret:home/${aws:username}/*"},
	    {"Effect": "Deny", "Action": "*", "Resource": "*",
	     "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
	  ]
	}`, policy.Identity)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := &policy.Request{
		Caller:   policy.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice", UserName: "alice"},
		Action:   "secretsmanager:GetSecretValue",
		Resource: "arn:aws:secretsmanager:us-east-1:111122223333:secret:home/alice/db-AbCdEf",
		Context:  map[string][]string{policy.Key("aws:SourceIp"): {"10.1.2.3"}},
	}
	fmt.Println(p.Evaluate(r))
	r.Context[policy.Key("aws:SourceIp")] = []string{"203.0.113.9"}
	fmt.Println(p.Evaluate(r))
	delete(r.Context, policy.Key("aws:SourceIp")) // NotIpAddress holds when the key is absent
	fmt.Println(p.Evaluate(r))

	_, err = policy.Parse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager","Resource":"*"}}`, policy.Identity)
	fmt.Println(err)
	// Output:
	// Allow
	// Deny
	// Deny
	// Statement 1: Action "secretsmanager" is not "*" or of the form "service:Operation".
}
