package runner

import "fmt"

// Level is a privilege level of the device shell at which a command runs.
type Level int

const (
	// LevelClish is the Firepower CLI (`>` prompt) FTDs and FMC 7.x land in.
	LevelClish Level = iota + 1
	// LevelExpert is the unprivileged Linux shell: `expert` from clish, or the
	// shell FMC 6.x land in directly.
	LevelExpert
	// LevelRoot is the root shell reached with `sudo su -`.
	LevelRoot
)

// LevelBash is the unprivileged Linux shell under its generic name. It is the
// same level as LevelExpert: a device that lands in bash (FMC 6.x) is in that
// state from the start, and in exec mode it is the login user's shell.
const LevelBash = LevelExpert

func (l Level) String() string {
	switch l {
	case LevelClish:
		return "clish"
	case LevelExpert:
		return "expert"
	case LevelRoot:
		return "root"
	default:
		return fmt.Sprintf("level(%d)", int(l))
	}
}

func (l Level) valid() bool { return l >= LevelClish && l <= LevelRoot }
