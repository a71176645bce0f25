package notify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Payload formats of a webhook.
const (
	FormatJSON  = "json"  // the Event itself
	FormatSlack = "slack" // Slack incoming webhook: {"text": mrkdwn}
	FormatWebex = "webex" // Webex incoming webhook: {"markdown": ...}
)

// Formats lists the payload formats, for config validation.
func Formats() []string { return []string{FormatJSON, FormatSlack, FormatWebex} }

// maxChatChars keeps chat messages under the receivers' limits (Slack
// truncates text past 40,000 characters; Webex refuses messages over 7,439
// bytes): long device lists are cut, not the message refused.
const maxChatChars = 7000

// Payload renders an event in a webhook's format.
func Payload(format string, ev Event) ([]byte, error) {
	switch format {
	case FormatJSON, "":
		return json.Marshal(ev)
	case FormatSlack:
		return json.Marshal(map[string]string{"text": chatText("*"+escapeSlack(ev.Title)+"*", ev.Lines, escapeSlack)})
	case FormatWebex:
		return json.Marshal(map[string]string{"markdown": chatText("**"+ev.Title+"**", ev.Lines, func(s string) string { return s })})
	}
	return nil, fmt.Errorf("unknown webhook format %q (known: %s)", format, strings.Join(Formats(), ", "))
}

func chatText(title string, lines []string, esc func(string) string) string {
	var b strings.Builder
	b.WriteString(title)
	for _, l := range lines {
		l = esc(l)
		if b.Len()+len(l)+1 > maxChatChars {
			b.WriteString("\n…")
			break
		}
		b.WriteString("\n")
		b.WriteString(l)
	}
	return b.String()
}

// escapeSlack escapes the three characters Slack's mrkdwn reserves.
func escapeSlack(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
