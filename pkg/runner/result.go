package runner

import "time"

// Timings says where a device's time went.
type Timings struct {
	Queue     time.Duration // waiting for a concurrency slot and the start rate
	Dial      time.Duration // TCP connects (all hops, all attempts)
	Handshake time.Duration // SSH banner and key exchange up to the host-key check
	Auth      time.Duration // from the host-key check to the end of authentication
	Shell     time.Duration // opening the shell and reaching the landing prompt
	Commands  time.Duration // Run/Interact calls, level changes included
	// Longest is the longest single Run/Interact call: how long the device
	// made the session wait at once (a curl waiting out its --max-time).
	// Unlike the session's length it hardly grows when sessions queue for
	// CPU, so it ranks a fleet's slow devices (runs.longestFirst).
	Longest time.Duration
	Exit    time.Duration // clean exit and close
}

// Result is the outcome for one device. Every target given to FanOut yields
// exactly one Result.
type Result struct {
	Device string
	Site   string
	// Err is nil on success; otherwise Class says what kind of failure it is.
	Err   error
	Class ErrorClass
	// Attempts is the number of connection attempts made (0 if the device was
	// never dialled, e.g. the run was cancelled while it waited).
	Attempts int
	// Transcript is the session text, capped at MaxTranscript, with every
	// secret the runner knows replaced by [REDACTED].
	Transcript string
	// TranscriptTruncated reports that the cap was reached.
	TranscriptTruncated bool
	// HostKeyFingerprint is the SHA256 fingerprint the device presented, when
	// the key exchange got that far.
	HostKeyFingerprint string
	// Landing is where the login landed: clish, expert, root, fxos or exec.
	Landing           string
	Started, Finished time.Time
	Timings           Timings
}
