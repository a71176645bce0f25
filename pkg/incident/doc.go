// Package incident groups a run's unhealthy and unreachable devices into
// fleet-level root causes ("one firewall at emea blocks eventing for 300
// FTDs"): a pure function over the results and what the inventory knows of
// each device (site, managing FMC, software version, credential, jump
// chain). It reads and writes nothing; pkg/runs feeds it and the API shows
// what it finds.
package incident
