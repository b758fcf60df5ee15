package main

// sysSetns is setns(2); Go's syscall package names it for arm64 but not amd64.
const sysSetns = 308
