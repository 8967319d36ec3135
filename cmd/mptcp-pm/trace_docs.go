package main

// The keywords of the commands that draw and watch connections (trace.go,
// watch.go), added to docs.go's tables for the completion scripts and the
// checks of the manual and the docs.
func init() {
	commandKeywords["connection trace"] = []string{"token", "--for", "--svg", "--html", "--control", "--from"}
	commandKeywords["connection watch"] = []string{"token", "--interval", "--control"}
}
