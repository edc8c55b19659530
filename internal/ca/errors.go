package ca

import (
	"fmt"
	"strings"

	"github.com/sigilhq/sigil/internal/errs"
)

// Precise error codes of this service. Adapters map them to wire errors.
const (
	CodeInvalidArgs          errs.Code = "InvalidArgs"
	CodeInvalidArn           errs.Code = "InvalidArn"
	CodeInvalidRequest       errs.Code = "InvalidRequest"
	CodeInvalidTag           errs.Code = "InvalidTag"
	CodeTooManyTags          errs.Code = "TooManyTags"
	CodeInvalidNextToken     errs.Code = "InvalidNextToken"
	CodeMalformedCSR         errs.Code = "MalformedCSR"
	CodeMalformedCertificate errs.Code = "MalformedCertificate"
	CodeCertificateMismatch  errs.Code = "CertificateMismatch"
	CodeConcurrentModify     errs.Code = "ConcurrentModification"
)

func invalidArgs(format string, a ...any) error {
	return errs.Coded(errs.Invalid, CodeInvalidArgs, format, a...)
}

func invalidArn(format string, a ...any) error {
	return errs.Coded(errs.Invalid, CodeInvalidArn, format, a...)
}

func invalidRequest(format string, a ...any) error {
	return errs.Coded(errs.Invalid, CodeInvalidRequest, format, a...)
}

func invalidState(format string, a ...any) error {
	return errs.New(errs.State, format, a...)
}

func notFound(format string, a ...any) error {
	return errs.New(errs.NotFound, format, a...)
}

func concurrentModification(arn string) error {
	return errs.Coded(errs.Conflict, CodeConcurrentModify,
		"The certificate authority %s was changed by another request; retry.", arn)
}

// validation is a constraint violation on an input field, worded as AWS
// words its front-door validation errors.
func validation(field string, value any, constraint string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s",
		value, field, constraint)
}

func enumValidation(field, value string, allowed []string) error {
	return validation(field, value, fmt.Sprintf("Member must satisfy enum value set: [%s]", strings.Join(allowed, ", ")))
}

func required(field string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}
