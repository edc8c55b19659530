package pki

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Encrypted private keys are PKCS#8 EncryptedPrivateKeyInfo (RFC 5958)
// with PBES2 (RFC 8018): PBKDF2 with HMAC-SHA256 derives an AES-256-CBC
// key from the passphrase. openssl pkey -passin, Python's cryptography and
// Java open them.

// PKCS8Iterations is the PBKDF2 iteration count of keys Sigil encrypts.
const PKCS8Iterations = 100_000

// maxPKCS8Iterations bounds the work a key given to DecryptPKCS8PEM can ask
// for (a variable so the fuzz target can lower it).
var maxPKCS8Iterations = 10_000_000

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt      []byte
	Iteration int
	KeyLength int                      `asn1:"optional"`
	PRF       pkix.AlgorithmIdentifier `asn1:"optional"`
}

// ErrWrongPassphrase means an encrypted key did not decrypt: the passphrase
// is wrong or the data is damaged.
var ErrWrongPassphrase = errors.New("the passphrase is wrong or the encrypted key is damaged")

// EncryptPKCS8PEM encrypts a PKCS#8 PrivateKeyInfo (DER) under passphrase
// and returns it as an "ENCRYPTED PRIVATE KEY" PEM block.
func EncryptPKCS8PEM(der, passphrase []byte, random io.Reader) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("an empty passphrase cannot protect a key")
	}
	salt := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, fmt.Errorf("read salt: %w", err)
	}
	if _, err := io.ReadFull(random, iv); err != nil {
		return nil, fmt.Errorf("read IV: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, string(passphrase), salt, PKCS8Iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(der)%aes.BlockSize
	buf := make([]byte, len(der)+pad)
	copy(buf, der)
	for i := len(der); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)

	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}
	nullDER := asn1.RawValue{Tag: asn1.TagNull}
	kdfDER, err := asn1.Marshal(pbkdf2Params{Salt: salt, Iteration: PKCS8Iterations,
		PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: nullDER}})
	if err != nil {
		return nil, err
	}
	paramsDER, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfDER}},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, err
	}
	out, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: paramsDER}},
		EncryptedData: buf,
	})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out}), nil
}

// DecryptPKCS8PEM decrypts an "ENCRYPTED PRIVATE KEY" PEM block made with
// PBES2, PBKDF2 (HMAC-SHA1, -SHA256, -SHA384 or -SHA512) and AES-CBC (128,
// 192 or 256 bits), as Sigil and OpenSSL make them, and returns the
// PrivateKeyInfo DER.
func DecryptPKCS8PEM(pemBytes, passphrase []byte) ([]byte, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("no ENCRYPTED PRIVATE KEY PEM block")
	}
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(block.Bytes, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed EncryptedPrivateKeyInfo")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("unsupported key encryption %v (only PBES2)", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed PBES2 parameters")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, errors.New("unsupported key derivation (only PBKDF2)")
	}
	var kdf pbkdf2Params
	if rest, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	if kdf.Iteration < 1 || kdf.Iteration > maxPKCS8Iterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is out of range", kdf.Iteration)
	}
	var prf func() hash.Hash
	switch p := kdf.PRF.Algorithm; {
	case len(p) == 0 || p.Equal(oidHMACSHA1):
		prf = sha1.New
	case p.Equal(oidHMACSHA256):
		prf = sha256.New
	case p.Equal(oidHMACSHA384):
		prf = sha512.New384
	case p.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, fmt.Errorf("unsupported PBKDF2 PRF %v", p)
	}
	var keyLen int
	switch s := params.EncryptionScheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen = 16
	case s.Equal(oidAES192CBC):
		keyLen = 24
	case s.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, fmt.Errorf("unsupported cipher %v (only AES-CBC)", s)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, errors.New("PBKDF2 key length does not match the cipher")
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(rest) > 0 || len(iv) != aes.BlockSize {
		return nil, errors.New("malformed AES-CBC IV")
	}
	data := info.EncryptedData
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, ErrWrongPassphrase
	}
	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.Iteration, keyLen)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > aes.BlockSize || !hmac.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, ErrWrongPassphrase
	}
	out = out[:len(out)-pad]
	// A wrong passphrase passes the padding check about once in 256
	// tries; the result is then not a PrivateKeyInfo.
	var probe struct {
		Version int
		Algo    pkix.AlgorithmIdentifier
		Key     []byte
	}
	if rest, err := asn1.Unmarshal(out, &probe); err != nil || len(rest) > 0 {
		return nil, ErrWrongPassphrase
	}
	return out, nil
}
