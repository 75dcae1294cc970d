-- Integration rights and routed providers (issue 15): which institution may integrate persons in
-- which capacity, and which institution provides which routed service; whether an authorization
-- accepts provisional integrations; the address prefixes under which an institution's webhooks
-- may be. An upgraded store keeps working: every (institution, capacity) pair the directory
-- already holds becomes a right, and every holder of a routed capacity with an address becomes a
-- provider of the services routed on it, marked for the operator to review (docs/security.md).
-- Authorizations recorded before this version keep accepting provisional integrations, and the
-- webhook addresses already subscribed become their institutions' registered addresses (exactly).
CREATE TABLE integration_rights (
    institution TEXT NOT NULL REFERENCES institutions(enterprise_number) ON DELETE CASCADE,
    capacity TEXT NOT NULL REFERENCES capacities(code),
    legal_basis TEXT NOT NULL,
    PRIMARY KEY (institution, capacity)
);
CREATE TABLE routed_providers (
    service TEXT NOT NULL,
    institution TEXT NOT NULL REFERENCES institutions(enterprise_number) ON DELETE CASCADE,
    PRIMARY KEY (service, institution)
);
ALTER TABLE authorizations ADD COLUMN accepts_provisional INTEGER NOT NULL DEFAULT 1;
ALTER TABLE institutions ADD COLUMN webhook_bases TEXT NOT NULL DEFAULT '[]';
INSERT INTO integration_rights (institution, capacity, legal_basis)
    SELECT DISTINCT i.institution, i.capacity, 'granted on upgrade to schema 11 from existing entries: review'
    FROM integrations i
    JOIN institutions n ON n.enterprise_number = i.institution
    JOIN capacities c ON c.code = i.capacity;
INSERT INTO routed_providers (service, institution)
    SELECT DISTINCT s.code, r.institution
    FROM services s
    JOIN integration_rights r ON r.capacity = s.routed_capacity
    JOIN institutions n ON n.enterprise_number = r.institution
    WHERE n.base_url IS NOT NULL;
UPDATE institutions SET webhook_bases = (
    SELECT json_agg(DISTINCT s.webhook_url)::text FROM subscriptions s
    WHERE s.institution = institutions.enterprise_number AND s.webhook_url IS NOT NULL)
WHERE EXISTS (
    SELECT 1 FROM subscriptions s WHERE s.institution = institutions.enterprise_number AND s.webhook_url IS NOT NULL);
