package sigiltest

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sigilhq/sigil/internal/api/functions"
)

// CallNative calls one of Sigil's native AWS-JSON operations (such as
// "SigilFunctions.CreateRotationFunction", signing name "sigil") with SigV4
// credentials and decodes the answer into out.
func CallNative(ctx context.Context, endpoint, keyID, secret, region, target string, in, out any) error {
	return functions.Call(ctx, nil, endpoint, aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, region, target, in, out)
}

// CallNativeSession is CallNative with a session token (temporary
// credentials from sts:AssumeRole); token may be empty.
func CallNativeSession(ctx context.Context, endpoint, keyID, secret, token, region, target string, in, out any) error {
	return functions.Call(ctx, nil, endpoint, aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: token}, region, target, in, out)
}
