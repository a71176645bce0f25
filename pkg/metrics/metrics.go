package metrics

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
)

// Metrics are fleetd's instruments, on a registry of their own (no global
// state: two fleetd servers in one test process do not collide).
type Metrics struct {
	Registry *prometheus.Registry

	devicesChecked    prometheus.Counter
	results           *prometheus.CounterVec
	sshErrors         *prometheus.CounterVec
	runDuration       *prometheus.HistogramVec
	sweepsStarted     *prometheus.CounterVec
	webhookDeliveries *prometheus.CounterVec
	jobs              *prometheus.GaugeVec
	approvalsPending  prometheus.Gauge
	refreshErrors     prometheus.Counter

	// Fleet health, read from the database by the Refresher: labels are
	// sites, health values, diagnosis codes, incident kinds and schedules,
	// all bounded by the configuration, never device names.
	fleetDevices       *prometheus.GaugeVec
	fleetDiagnoses     *prometheus.GaugeVec
	incidents          *prometheus.GaugeVec
	sweepLastCompleted *prometheus.GaugeVec
	sweepLastUnhealthy *prometheus.GaugeVec
	sweepLastDevices   *prometheus.GaugeVec
}

// sshClasses bounds the class label to the runner's classes.
var sshClasses = []string{
	string(runner.ClassUnreachable), string(runner.ClassAuthFailed), string(runner.ClassHostKeyMismatch),
	string(runner.ClassHostKeyUnknown), string(runner.ClassTimeout), string(runner.ClassProtocol),
	string(runner.ClassAddressRefused),
}

// New returns the metrics on a fresh registry that also carries the Go
// runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		devicesChecked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetd_devices_checked_total",
			Help: "Device results recorded by this process (rate() gives devices checked per second).",
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetd_device_results_total",
			Help: "Device results by health and diagnosis code (diagnosis \"none\" when healthy; a device with two diagnoses counts once under each).",
		}, []string{"health", "diagnosis"}),
		sshErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetd_ssh_errors_total",
			Help: "Devices that could not be checked, by error class (unreachable, auth-failed, hostkey-mismatch, timeout, ...).",
		}, []string{"class"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetd_run_duration_seconds",
			Help:    "Time from a run's creation to its completion, by kind (diagnose, sweep), observed by the process that completed it.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
		}, []string{"kind"}),
		sweepsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetd_sweeps_started_total",
			Help: "Scheduled sweeps started by this process, by schedule.",
		}, []string{"schedule"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetd_webhook_deliveries_total",
			Help: "Webhook delivery attempts by webhook and outcome (delivered, retry, failed).",
		}, []string{"webhook", "outcome"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetd_jobs",
			Help: "Jobs in the shared queue not yet finished, by queue and state (refreshed periodically; same on every replica).",
		}, []string{"queue", "state"}),
		approvalsPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetd_approvals_pending",
			Help: "Remediation requests waiting for approval (refreshed periodically; same on every replica).",
		}),
		refreshErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetd_metrics_refresh_errors_total",
			Help: "Failed refreshes of the database gauges.",
		}),
		fleetDevices: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetd_devices",
			Help: "Inventory devices by site and latest health (healthy, unhealthy, error, unknown = never checked).",
		}, []string{"site", "health"}),
		fleetDiagnoses: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetd_device_diagnoses",
			Help: "Inventory devices by site and diagnosis code of their latest result.",
		}, []string{"site", "diagnosis"}),
		incidents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetd_incidents",
			Help: "Fleet-level incidents in the devices' latest results, by kind and site (\"multi\": the devices span sites).",
		}, []string{"kind", "site"}),
		sweepLastCompleted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetd_sweep_last_completed_timestamp_seconds",
			Help: "When the schedule's latest completed sweep finished (Unix time).",
		}, []string{"schedule"}),
		sweepLastUnhealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetd_sweep_last_unhealthy",
			Help: "Devices unhealthy or not checked in the schedule's latest completed sweep.",
		}, []string{"schedule"}),
		sweepLastDevices: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetd_sweep_last_devices",
			Help: "Devices in the schedule's latest completed sweep.",
		}, []string{"schedule"}),
	}
	reg.MustRegister(m.devicesChecked, m.results, m.sshErrors, m.runDuration, m.sweepsStarted,
		m.webhookDeliveries, m.jobs, m.approvalsPending, m.refreshErrors,
		m.fleetDevices, m.fleetDiagnoses, m.incidents, m.sweepLastCompleted, m.sweepLastUnhealthy, m.sweepLastDevices,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that exist from the start, so rate() and alerts see zeros
	// rather than nothing.
	for _, h := range []string{runs.HealthHealthy, runs.HealthUnhealthy, runs.HealthError} {
		m.results.WithLabelValues(h, "none")
	}
	for _, c := range sshClasses {
		m.sshErrors.WithLabelValues(c)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveResults counts newly recorded device results (one of
// runs.Recorder's OnRecorded observers).
func (m *Metrics) ObserveResults(results []runs.Result) {
	m.devicesChecked.Add(float64(len(results)))
	for _, r := range results {
		health := r.Health
		if health == "" {
			health = runs.HealthError
		}
		if len(r.Diagnoses) == 0 {
			m.results.WithLabelValues(health, "none").Inc()
		}
		for _, d := range r.Diagnoses {
			m.results.WithLabelValues(health, d).Inc()
		}
		if health == runs.HealthError {
			class := "other"
			if len(r.Diagnoses) > 0 && slices.Contains(sshClasses, r.Diagnoses[0]) {
				class = r.Diagnoses[0]
			}
			m.sshErrors.WithLabelValues(class).Inc()
		}
	}
}

// ObserveRun records a completed run's duration.
func (m *Metrics) ObserveRun(kind string, d time.Duration) {
	m.runDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// SweepStarted counts a scheduled sweep started by this process.
func (m *Metrics) SweepStarted(schedule string) { m.sweepsStarted.WithLabelValues(schedule).Inc() }

// WebhookDelivery counts one delivery attempt (notify.Deps.Observe).
func (m *Metrics) WebhookDelivery(webhook, outcome string) {
	m.webhookDeliveries.WithLabelValues(webhook, outcome).Inc()
}
