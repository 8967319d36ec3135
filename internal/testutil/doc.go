// Package testutil holds the helpers that tests in several packages share:
// socket addresses as the daemon prints them, the MPTCP token of a
// socket, fresh network namespaces, the skip-or-fail rule for tests
// that need privilege, and small Go programs built for a test.
//
// Only tests import it. It must not import a package of this module whose
// in-package tests use it (that would be an import cycle: hence
// internal/netns's own test keeps its namespace code); the end-to-end
// testbed of three namespaces is tests/testbed, not here.
package testutil
