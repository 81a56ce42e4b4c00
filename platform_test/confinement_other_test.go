//go:build !linux

package platform_test

// flipperVar names the attacker of the Linux-only confinement race test.
const flipperVar = "CGIHTTPD_TEST_FLIPPER"

func flipperMain(string) int { return 2 }
