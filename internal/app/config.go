package app

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/console"
	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/incident"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/metrics"
	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/queues"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

// This file is the one place where fleetd's config file (internal/config)
// is translated into the packages' own config structs. A package never sees
// config.Config; each setting's default is the file's (config.Default), and
// TestPackageDefaultsMatchFile checks the packages' own defaults agree.

// InventoryCatalog lists the configured sites and credentials, sorted by
// name: what inventory rows may name.
func InventoryCatalog(cfg config.Config) inventory.Catalog {
	var cat inventory.Catalog
	for _, name := range cfg.SiteNames() {
		s := cfg.Sites[name]
		cat.Sites = append(cat.Sites, inventory.Site{Name: name, Region: s.Region, Timezone: s.Timezone,
			HostKeyPolicy: s.HostKeyPolicy, AllowedNetworks: nilIfEmpty(s.AllowedNetworks)})
	}
	for _, name := range cfg.CredentialNames() {
		c := cfg.Credentials[name]
		cat.Credentials = append(cat.Credentials, inventory.CredentialRef{Name: name, Username: c.Username,
			Methods: c.Methods(), Sites: nilIfEmpty(c.Sites)})
	}
	for name := range cfg.JumpChains {
		cat.JumpChains = append(cat.JumpChains, name)
	}
	sort.Strings(cat.JumpChains)
	return cat
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// RemediationSites gives remediation each site's time zone, maintenance
// window and reboot timeout.
func RemediationSites(cfg config.Config) map[string]remediate.Site {
	out := make(map[string]remediate.Site, len(cfg.Sites))
	for name, s := range cfg.Sites {
		out[name] = remediate.Site{Location: s.Location(), Window: s.MaintenanceWindow.Window(), RebootTimeout: s.RebootTimeout}
	}
	return out
}

// RemediationConfig is the request settings (remediation.*).
func RemediationConfig(cfg config.Config) remediate.Config {
	r := cfg.Remediation
	return remediate.Config{ApprovalTTL: r.ApprovalTTL, BatchSize: r.BatchSize, FailureThreshold: r.FailureThreshold,
		Sites: RemediationSites(cfg)}
}

// RemediationWorkerConfig is the execution settings: the sites; the rest
// are the package's own.
func RemediationWorkerConfig(cfg config.Config) remediate.WorkerConfig {
	return remediate.WorkerConfig{Sites: RemediationSites(cfg)}
}

// RunnerConfig is the SSH fan-out's bounds (runner.*, sites.*.max_concurrent).
// Settings the file does not have keep the runner's defaults.
func RunnerConfig(cfg config.Config) runner.Config {
	rc := runner.Config{
		MaxConcurrent:  cfg.Runner.MaxConcurrent,
		StartRate:      cfg.Runner.StartRate, // 0: unlimited, in both
		ConnectTimeout: cfg.Runner.ConnectTimeout,
		CommandTimeout: cfg.Runner.CommandTimeout,
		SessionTimeout: cfg.Runner.SessionTimeout,
		Retry:          runner.RetryPolicy{Attempts: cfg.Runner.Retry.Attempts, Base: cfg.Runner.Retry.Backoff},
		AgentSocket:    os.Getenv("SSH_AUTH_SOCK"),
	}
	for name, s := range cfg.Sites {
		if s.MaxConcurrent > 0 {
			if rc.PerSite == nil {
				rc.PerSite = map[string]int{}
			}
			rc.PerSite[name] = s.MaxConcurrent
		}
	}
	return rc.WithDefaults()
}

// Device job bounds. The order is what keeps a device from having two
// sessions of one run at once: the runner closes a session's connection at
// runner.session_timeout whatever the device does; the job's context ends
// jobMargin later (queueing for runner slots, recording the result; the
// session is cut then too); River hands a job on only after a running time
// of rescue_after, at least rescueMargin beyond the job timeout, by which
// time the first attempt's session is closed. The session lease
// (pkg/runs sessionlease.go) covers what the ordering cannot see.
const (
	jobMargin    = 30 * time.Second
	rescueMargin = 30 * time.Second
)

// DeviceJobTimeouts returns the device job timeout and the rescue delay:
// jobs.rescue_after if set (else session_timeout + 1m), raised to the job
// timeout + rescueMargin if shorter.
func DeviceJobTimeouts(cfg config.Config) (job, rescue time.Duration) {
	job = cfg.Runner.SessionTimeout + jobMargin
	rescue = cfg.Jobs.RescueAfter
	if rescue == 0 {
		rescue = cfg.Runner.SessionTimeout + time.Minute
	}
	return job, max(rescue, job+rescueMargin)
}

// ClientID names this process in the job queue: jobs.client_id, else the
// host name and api.listen.
func ClientID(cfg config.Config) string {
	if cfg.Jobs.ClientID != "" {
		return cfg.Jobs.ClientID
	}
	host, _ := os.Hostname()
	return strings.NewReplacer(":", "_", "[", "", "]", "").Replace(host + "-" + cfg.API.Listen)
}

// JobsConfig is the job queue's settings (jobs.*); the caller adds the
// periodic jobs.
func JobsConfig(cfg config.Config) jobs.Config {
	job, rescue := DeviceJobTimeouts(cfg)
	workers := cfg.Jobs.DiagnoseWorkers
	if workers == 0 {
		// The effective runner.max_concurrent (0 in the file is sized from
		// memory), in jobs of jobs.diagnose_batch devices that all run at
		// once: rounded up, so the sessions never fall short of it; the
		// runner's limit makes the last batch's few extra wait.
		batch := cfg.Jobs.DiagnoseBatch
		if batch <= 0 {
			batch = runs.DefaultDeviceBatch
		}
		workers = (RunnerConfig(cfg).MaxConcurrent + batch - 1) / batch
	}
	return jobs.Config{
		ClientID:        ClientID(cfg),
		DiagnoseWorkers: workers,
		JobTimeout:      job,
		RescueAfter:     rescue,
		RetryPolicy:     runs.RetryPolicy{Delay: cfg.Jobs.RetryDelay},
	}
}

// LivenessConfig is the heartbeat's settings (jobs.heartbeat_interval,
// jobs.replica_dead_after). Only diagnose jobs are safe to hand on at once.
func LivenessConfig(cfg config.Config) jobs.LivenessConfig {
	return jobs.LivenessConfig{ClientID: ClientID(cfg), Interval: cfg.Jobs.HeartbeatInterval,
		DeadAfter: cfg.Jobs.ReplicaDeadAfter, Queues: []string{queues.Diagnose}}
}

// SweepConfig is the configured schedules.
func SweepConfig(cfg config.Config) sweep.Config {
	out := sweep.Config{Incidents: IncidentConfig(cfg)}
	for _, s := range cfg.Schedules {
		out.Schedules = append(out.Schedules, sweep.ScheduleConfig{Name: s.Name, Cron: s.Cron, Timezone: s.Timezone,
			Selector: runs.Selector{All: s.Selector.All, Site: s.Selector.Site, Tag: s.Selector.Tag},
			Enabled:  s.IsEnabled(), CreateRemediationRequests: s.CreateRemediationRequests})
	}
	return out
}

// NotifyConfig resolves webhook URLs (url, or the variable url_env names).
// A webhook whose variable is unset is left out, loudly: the rest work.
func NotifyConfig(cfg config.Config, log *zap.Logger) notify.Config {
	n := cfg.Notifications
	out := notify.Config{MaxAttempts: n.MaxAttempts, Timeout: n.Timeout, Backoff: n.Backoff, MaxBackoff: n.MaxBackoff,
		PublicURL: cfg.UI.PublicURL}
	for i, w := range n.Webhooks {
		url := w.URL
		if w.URLEnv != "" {
			url = os.Getenv(w.URLEnv)
		}
		if url == "" {
			log.Error("webhook disabled: its URL variable is not set",
				zap.String("key", fmt.Sprintf("notifications.webhooks[%d].url_env", i)), zap.String("webhook", w.Name),
				zap.String("variable", w.URLEnv))
			continue
		}
		out.Webhooks = append(out.Webhooks, notify.Webhook{Name: w.Name, URL: url, Format: w.Format, Events: w.Events})
	}
	return out
}

// IncidentConfig is the incidents' thresholds (incidents.*).
func IncidentConfig(cfg config.Config) incident.Config {
	return incident.Config{MinDevices: cfg.Incidents.MinDevices, MinShare: cfg.Incidents.MinShare}
}

// MetricsRefresherConfig is the database gauges' refresh (metrics.*).
func MetricsRefresherConfig(cfg config.Config) metrics.RefresherConfig {
	return metrics.RefresherConfig{Interval: cfg.Metrics.RefreshInterval,
		Queues: queues.All(), Incidents: IncidentConfig(cfg)}
}

// SessionConfig is the console sessions' life (ui.session_idle,
// ui.session_max_age) on the given clock.
func SessionConfig(cfg config.Config, now func() time.Time) auth.SessionConfig {
	return auth.SessionConfig{Idle: cfg.UI.SessionIdle, MaxAge: cfg.UI.SessionMaxAge, Now: now}
}

// ConsoleConfig is the web console's settings: its cookies are Secure when
// fleetd serves TLS or is reached over https (ui.public_url).
func ConsoleConfig(cfg config.Config, now func() time.Time) console.Config {
	return console.Config{SecureCookies: cfg.API.TLS.Enabled() || strings.HasPrefix(cfg.UI.PublicURL, "https://"), Now: now}
}

// RetentionConfig is the history's retention (retention.*): the file's 0
// (keep forever) is the package's negative; the runs a sweep report or an
// open remediation request needs are kept.
func RetentionConfig(cfg config.Config) runs.RetentionConfig {
	never := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	return runs.RetentionConfig{Runs: never(cfg.Retention.Runs), Transcripts: never(cfg.Retention.Transcripts),
		Keep: []string{sweep.RetainedRunsSQL(remediate.OpenRequestsSQL())}}
}
