package sigiltest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// CallNative calls one of Sigil's native AWS-JSON operations (such as
// "SigilFunctions.CreateRotationFunction", signing name "sigil") with SigV4
// credentials and decodes the answer into out. A non-200 answer is returned
// as an error carrying the __type and message.
func CallNative(ctx context.Context, endpoint, keyID, secret, region, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sigil", region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e map[string]string
		json.Unmarshal(raw, &e)
		msg := e["message"]
		if msg == "" {
			msg = e["Message"]
		}
		return fmt.Errorf("%s: %s", e["__type"], msg)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
