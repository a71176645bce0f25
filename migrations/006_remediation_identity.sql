-- Remediation approvals bound to the device's identity (issue 10 §1), and a
-- two-person rule that does not bend to letter case (issue 10 §4).
--
-- Each frozen device of a request now also records where and how fleetd
-- reaches it and which box it is: the address, the credential name and the
-- SHA256 fingerprint of its pinned host key at request time. They are part
-- of the parameters hash the approver approves (params_version 2); the
-- worker acts on the frozen device id and refuses a device whose inventory
-- row or pinned key no longer matches. Rows stored before this migration
-- keep '' there and params_version 1 (their hash stays computable; fleetd
-- refuses to approve or run them, asking for a new request).

-- +goose Up
ALTER TABLE remediation_requests ADD COLUMN params_version int NOT NULL DEFAULT 1
    CHECK (params_version IN (1, 2));

ALTER TABLE remediation_devices ADD COLUMN address text NOT NULL DEFAULT '';
ALTER TABLE remediation_devices ADD COLUMN credential text NOT NULL DEFAULT '';
-- SHA256:... of the key pinned when the request was made.
ALTER TABLE remediation_devices ADD COLUMN host_key text NOT NULL DEFAULT '';

-- Token names are compared case-insensitively: `Lead1` is `lead1`. NOT
-- VALID: an approval recorded before the fix stays as history; every new
-- or updated row is checked.
ALTER TABLE remediation_requests DROP CONSTRAINT remediation_requests_check;
ALTER TABLE remediation_requests ADD CONSTRAINT remediation_requests_two_person_check
    CHECK (approved_by IS NULL OR lower(approved_by) <> lower(requested_by)) NOT VALID;

-- +goose Down
ALTER TABLE remediation_requests DROP CONSTRAINT remediation_requests_two_person_check;
ALTER TABLE remediation_requests ADD CONSTRAINT remediation_requests_check
    CHECK (approved_by IS NULL OR approved_by <> requested_by) NOT VALID;
ALTER TABLE remediation_devices DROP COLUMN host_key;
ALTER TABLE remediation_devices DROP COLUMN credential;
ALTER TABLE remediation_devices DROP COLUMN address;
ALTER TABLE remediation_requests DROP COLUMN params_version;
