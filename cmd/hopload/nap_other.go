//go:build !linux

package main

import "time"

func lockNapper() {}

func nap(d time.Duration) { time.Sleep(d) }
