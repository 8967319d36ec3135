// Package testutil holds the helpers that tests in several packages share:
// socket addresses as the daemon prints them, the MPTCP token of a
// socket, fresh network namespaces, and the skip-or-fail rule for tests
// that need privilege.
//
// Only tests import it. It must not import a package of this module that
// has tests using it (that would be an import cycle); the end-to-end
// testbed of three namespaces is tests/testbed, not here.
package testutil
