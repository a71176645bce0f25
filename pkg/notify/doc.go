// Package notify owns fleetd's outgoing notifications: webhooks that receive
// events (a sweep completed with its diff, a remediation request waiting for
// approval, a remediation finished) as generic JSON or as Slack- or
// Webex-compatible messages.
//
// Sending is durable and never in anyone's way: Notify (or NotifyTx, inside
// the caller's transaction) only inserts one River job per matching webhook;
// the DeliverWorker posts it, and a webhook that fails is retried with
// exponential backoff in its own job, so a slow or broken receiver delays
// nothing but its own messages. Webhook URLs often embed a secret: they are
// read from config at delivery time, never stored in the job and never
// logged.
package notify
