-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0006: execution NOTIFY triggers and the execution/worker history tables
-- (spec 04 §5, spec 07 §7.5). Restates upstream
-- 20260902000001_execution_notification_trace_tag (current payloads),
-- 20250101000006_workflow_system @e76cd03 (workflow_execution_status_changed_notify),
-- 20250101000009_timescaledb_history @a354b9c (execution_history RANGE-partitioned with a
-- DEFAULT partition; worker_history a plain table) and the history trigger of
-- 20260909000002_async_pack_release_pins. Event/enforcement NOTIFY, the audit trail, daily
-- partitions and summary-invalidation triggers follow in 0006_native_audit_and_summaries.sql.

SET search_path TO attune, public;

-- ============================================================================
-- EXECUTION NOTIFY (channels execution_created / execution_status_changed)
-- ============================================================================

CREATE OR REPLACE FUNCTION notify_execution_created()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
    compact JSON;
    enforcement_rule_ref TEXT;
    enforcement_trigger_ref TEXT;
BEGIN
    IF NEW.enforcement IS NOT NULL THEN
        SELECT rule_ref, trigger_ref
        INTO enforcement_rule_ref, enforcement_trigger_ref
        FROM enforcement
        WHERE id = NEW.enforcement;
    END IF;

    payload := json_build_object(
        'entity_type', 'execution',
        'entity_id', NEW.id,
        'id', NEW.id,
        'action_id', NEW.action,
        'action_ref', NEW.action_ref,
        'status', NEW.status,
        'trace_tag', NEW.trace_tag,
        'enforcement', NEW.enforcement,
        'rule_ref', enforcement_rule_ref,
        'trigger_ref', enforcement_trigger_ref,
        'parent', NEW.parent,
        'started_at', NEW.started_at,
        'workflow_task', NEW.workflow_task,
        'created', NEW.created,
        'updated', NEW.updated,
        'auth_mode', 'full'
    );

    compact := json_build_object(
        'entity_type', 'execution',
        'entity_id', NEW.id,
        'id', NEW.id,
        'status', NEW.status,
        'trace_tag', NEW.trace_tag,
        'auth_mode', 'deferred'
    );

    PERFORM _notify_payload_guard('execution_created', payload::text, compact::text);

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION notify_execution_status_changed()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
    compact JSON;
    enforcement_rule_ref TEXT;
    enforcement_trigger_ref TEXT;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IS DISTINCT FROM NEW.status THEN
        IF NEW.enforcement IS NOT NULL THEN
            SELECT rule_ref, trigger_ref
            INTO enforcement_rule_ref, enforcement_trigger_ref
            FROM enforcement
            WHERE id = NEW.enforcement;
        END IF;

        payload := json_build_object(
            'entity_type', 'execution',
            'entity_id', NEW.id,
            'id', NEW.id,
            'action_id', NEW.action,
            'action_ref', NEW.action_ref,
            'status', NEW.status,
            'old_status', OLD.status,
            'trace_tag', NEW.trace_tag,
            'enforcement', NEW.enforcement,
            'rule_ref', enforcement_rule_ref,
            'trigger_ref', enforcement_trigger_ref,
            'parent', NEW.parent,
            'started_at', NEW.started_at,
            'workflow_task', NEW.workflow_task,
            'created', NEW.created,
            'updated', NEW.updated,
            'auth_mode', 'full'
        );

        compact := json_build_object(
            'entity_type', 'execution',
            'entity_id', NEW.id,
            'id', NEW.id,
            'status', NEW.status,
            'old_status', OLD.status,
            'trace_tag', NEW.trace_tag,
            'auth_mode', 'deferred'
        );

        PERFORM _notify_payload_guard('execution_status_changed', payload::text, compact::text);
    END IF;

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER execution_created_notify
    AFTER INSERT ON execution
    FOR EACH ROW
    EXECUTE FUNCTION notify_execution_created();

CREATE TRIGGER execution_status_changed_notify
    AFTER UPDATE ON execution
    FOR EACH ROW
    EXECUTE FUNCTION notify_execution_status_changed();

-- ============================================================================
-- HISTORY TABLES
-- ============================================================================

CREATE TABLE execution_history (
    time             TIMESTAMPTZ    NOT NULL DEFAULT NOW(),
    operation        TEXT           NOT NULL,
    entity_id        BIGINT         NOT NULL,
    entity_ref       TEXT,
    changed_fields   TEXT[]         NOT NULL DEFAULT '{}',
    old_values       JSONB,
    new_values       JSONB
) PARTITION BY RANGE (time);

-- Rows outside every daily leaf land here, so a write never fails for lack of a leaf.
CREATE TABLE execution_history_default PARTITION OF execution_history DEFAULT;

CREATE INDEX idx_execution_history_time ON execution_history (time DESC);
CREATE INDEX idx_execution_history_entity ON execution_history (entity_id, time DESC);
CREATE INDEX idx_execution_history_entity_ref ON execution_history (entity_ref, time DESC);
CREATE INDEX idx_execution_history_status_changes
    ON execution_history (time DESC)
    WHERE 'status' = ANY(changed_fields);
CREATE INDEX idx_execution_history_changed_fields ON execution_history USING GIN (changed_fields);

CREATE TABLE worker_history (
    time             TIMESTAMPTZ    NOT NULL DEFAULT NOW(),
    operation        TEXT           NOT NULL,
    entity_id        BIGINT         NOT NULL,
    entity_ref       TEXT,
    changed_fields   TEXT[]         NOT NULL DEFAULT '{}',
    old_values       JSONB,
    new_values       JSONB
);

CREATE INDEX idx_worker_history_time ON worker_history (time DESC);
CREATE INDEX idx_worker_history_entity ON worker_history (entity_id, time DESC);
CREATE INDEX idx_worker_history_entity_ref ON worker_history (entity_ref, time DESC);
CREATE INDEX idx_worker_history_status_changes
    ON worker_history (time DESC)
    WHERE 'status' = ANY(changed_fields);
CREATE INDEX idx_worker_history_changed_fields ON worker_history USING GIN (changed_fields);

-- ============================================================================
-- HISTORY TRIGGERS
-- ============================================================================

-- Tracked: status, result (digest only), executor, worker, workflow_task, env_vars (digest),
-- started_at, trace_tag, pack_release, pack_release_digest, executable_snapshot (digest).
CREATE OR REPLACE FUNCTION record_execution_history()
RETURNS TRIGGER AS $$
DECLARE
    changed TEXT[] := '{}';
    old_vals JSONB := '{}';
    new_vals JSONB := '{}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO execution_history (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'INSERT', NEW.id, NEW.action_ref, '{}', NULL,
                jsonb_build_object(
                    'status', NEW.status,
                    'action_ref', NEW.action_ref,
                    'executor', NEW.executor,
                    'worker', NEW.worker,
                    'parent', NEW.parent,
                    'enforcement', NEW.enforcement,
                    'started_at', NEW.started_at,
                    'trace_tag', NEW.trace_tag,
                    'pack_release', NEW.pack_release,
                    'pack_release_digest', NEW.pack_release_digest,
                    'executable_snapshot', _jsonb_digest_summary(NEW.executable_snapshot)
                ));
        RETURN NEW;
    END IF;

    IF TG_OP = 'DELETE' THEN
        INSERT INTO execution_history (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'DELETE', OLD.id, OLD.action_ref, '{}', NULL, NULL);
        RETURN OLD;
    END IF;

    IF OLD.status IS DISTINCT FROM NEW.status THEN
        changed := array_append(changed, 'status');
        old_vals := old_vals || jsonb_build_object('status', OLD.status);
        new_vals := new_vals || jsonb_build_object('status', NEW.status);
    END IF;
    IF OLD.result IS DISTINCT FROM NEW.result THEN
        changed := array_append(changed, 'result');
        old_vals := old_vals || jsonb_build_object('result', _jsonb_digest_summary(OLD.result));
        new_vals := new_vals || jsonb_build_object('result', _jsonb_digest_summary(NEW.result));
    END IF;
    IF OLD.executor IS DISTINCT FROM NEW.executor THEN
        changed := array_append(changed, 'executor');
        old_vals := old_vals || jsonb_build_object('executor', OLD.executor);
        new_vals := new_vals || jsonb_build_object('executor', NEW.executor);
    END IF;
    IF OLD.worker IS DISTINCT FROM NEW.worker THEN
        changed := array_append(changed, 'worker');
        old_vals := old_vals || jsonb_build_object('worker', OLD.worker);
        new_vals := new_vals || jsonb_build_object('worker', NEW.worker);
    END IF;
    IF OLD.workflow_task IS DISTINCT FROM NEW.workflow_task THEN
        changed := array_append(changed, 'workflow_task');
        old_vals := old_vals || jsonb_build_object('workflow_task', OLD.workflow_task);
        new_vals := new_vals || jsonb_build_object('workflow_task', NEW.workflow_task);
    END IF;
    IF OLD.env_vars IS DISTINCT FROM NEW.env_vars THEN
        changed := array_append(changed, 'env_vars');
        old_vals := old_vals || jsonb_build_object('env_vars', _jsonb_digest_summary(OLD.env_vars));
        new_vals := new_vals || jsonb_build_object('env_vars', _jsonb_digest_summary(NEW.env_vars));
    END IF;
    IF OLD.started_at IS DISTINCT FROM NEW.started_at THEN
        changed := array_append(changed, 'started_at');
        old_vals := old_vals || jsonb_build_object('started_at', OLD.started_at);
        new_vals := new_vals || jsonb_build_object('started_at', NEW.started_at);
    END IF;
    IF OLD.trace_tag IS DISTINCT FROM NEW.trace_tag THEN
        changed := array_append(changed, 'trace_tag');
        old_vals := old_vals || jsonb_build_object('trace_tag', OLD.trace_tag);
        new_vals := new_vals || jsonb_build_object('trace_tag', NEW.trace_tag);
    END IF;
    IF OLD.pack_release IS DISTINCT FROM NEW.pack_release THEN
        changed := array_append(changed, 'pack_release');
        old_vals := old_vals || jsonb_build_object('pack_release', OLD.pack_release);
        new_vals := new_vals || jsonb_build_object('pack_release', NEW.pack_release);
    END IF;
    IF OLD.pack_release_digest IS DISTINCT FROM NEW.pack_release_digest THEN
        changed := array_append(changed, 'pack_release_digest');
        old_vals := old_vals || jsonb_build_object('pack_release_digest', OLD.pack_release_digest);
        new_vals := new_vals || jsonb_build_object('pack_release_digest', NEW.pack_release_digest);
    END IF;
    IF OLD.executable_snapshot IS DISTINCT FROM NEW.executable_snapshot THEN
        changed := array_append(changed, 'executable_snapshot');
        old_vals := old_vals || jsonb_build_object('executable_snapshot', _jsonb_digest_summary(OLD.executable_snapshot));
        new_vals := new_vals || jsonb_build_object('executable_snapshot', _jsonb_digest_summary(NEW.executable_snapshot));
    END IF;

    IF array_length(changed, 1) > 0 THEN
        INSERT INTO execution_history (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'UPDATE', NEW.id, NEW.action_ref, changed, old_vals, new_vals);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Tracked: name, status, capabilities, meta, host, port, cordon fields. last_heartbeat and
-- updated are not tracked, so heartbeat-only updates write no row (spec 04 §5).
CREATE OR REPLACE FUNCTION record_worker_history()
RETURNS TRIGGER AS $$
DECLARE
    changed TEXT[] := '{}';
    old_vals JSONB := '{}';
    new_vals JSONB := '{}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO worker_history (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'INSERT', NEW.id, NEW.name, '{}', NULL,
                jsonb_build_object(
                    'name', NEW.name,
                    'worker_type', NEW.worker_type,
                    'worker_role', NEW.worker_role,
                    'status', NEW.status,
                    'capabilities', NEW.capabilities,
                    'meta', NEW.meta,
                    'host', NEW.host,
                    'port', NEW.port,
                    'cordoned', NEW.cordoned,
                    'cordon_reason', NEW.cordon_reason,
                    'cordoned_by', NEW.cordoned_by,
                    'cordoned_at', NEW.cordoned_at
                ));
        RETURN NEW;
    END IF;

    IF TG_OP = 'DELETE' THEN
        INSERT INTO worker_history (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'DELETE', OLD.id, OLD.name, '{}', to_jsonb(OLD), NULL);
        RETURN OLD;
    END IF;

    IF OLD.name IS DISTINCT FROM NEW.name THEN
        changed := array_append(changed, 'name');
        old_vals := old_vals || jsonb_build_object('name', OLD.name);
        new_vals := new_vals || jsonb_build_object('name', NEW.name);
    END IF;
    IF OLD.status IS DISTINCT FROM NEW.status THEN
        changed := array_append(changed, 'status');
        old_vals := old_vals || jsonb_build_object('status', OLD.status);
        new_vals := new_vals || jsonb_build_object('status', NEW.status);
    END IF;
    IF OLD.capabilities IS DISTINCT FROM NEW.capabilities THEN
        changed := array_append(changed, 'capabilities');
        old_vals := old_vals || jsonb_build_object('capabilities', OLD.capabilities);
        new_vals := new_vals || jsonb_build_object('capabilities', NEW.capabilities);
    END IF;
    IF OLD.meta IS DISTINCT FROM NEW.meta THEN
        changed := array_append(changed, 'meta');
        old_vals := old_vals || jsonb_build_object('meta', OLD.meta);
        new_vals := new_vals || jsonb_build_object('meta', NEW.meta);
    END IF;
    IF OLD.host IS DISTINCT FROM NEW.host THEN
        changed := array_append(changed, 'host');
        old_vals := old_vals || jsonb_build_object('host', OLD.host);
        new_vals := new_vals || jsonb_build_object('host', NEW.host);
    END IF;
    IF OLD.port IS DISTINCT FROM NEW.port THEN
        changed := array_append(changed, 'port');
        old_vals := old_vals || jsonb_build_object('port', OLD.port);
        new_vals := new_vals || jsonb_build_object('port', NEW.port);
    END IF;
    IF OLD.cordoned IS DISTINCT FROM NEW.cordoned THEN
        changed := array_append(changed, 'cordoned');
        old_vals := old_vals || jsonb_build_object('cordoned', OLD.cordoned);
        new_vals := new_vals || jsonb_build_object('cordoned', NEW.cordoned);
    END IF;
    IF OLD.cordon_reason IS DISTINCT FROM NEW.cordon_reason THEN
        changed := array_append(changed, 'cordon_reason');
        old_vals := old_vals || jsonb_build_object('cordon_reason', OLD.cordon_reason);
        new_vals := new_vals || jsonb_build_object('cordon_reason', NEW.cordon_reason);
    END IF;
    IF OLD.cordoned_by IS DISTINCT FROM NEW.cordoned_by THEN
        changed := array_append(changed, 'cordoned_by');
        old_vals := old_vals || jsonb_build_object('cordoned_by', OLD.cordoned_by);
        new_vals := new_vals || jsonb_build_object('cordoned_by', NEW.cordoned_by);
    END IF;
    IF OLD.cordoned_at IS DISTINCT FROM NEW.cordoned_at THEN
        changed := array_append(changed, 'cordoned_at');
        old_vals := old_vals || jsonb_build_object('cordoned_at', OLD.cordoned_at);
        new_vals := new_vals || jsonb_build_object('cordoned_at', NEW.cordoned_at);
    END IF;

    IF array_length(changed, 1) > 0 THEN
        INSERT INTO worker_history (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'UPDATE', NEW.id, NEW.name, changed, old_vals, new_vals);
    END IF;

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER execution_history_trigger
    AFTER INSERT OR UPDATE OR DELETE ON execution
    FOR EACH ROW
    EXECUTE FUNCTION record_execution_history();

CREATE TRIGGER worker_history_trigger
    AFTER INSERT OR UPDATE OR DELETE ON worker
    FOR EACH ROW
    EXECUTE FUNCTION record_worker_history();

-- ============================================================================
-- WORKFLOW EXECUTION NOTIFY (fires only for executions of a workflow definition)
-- ============================================================================

CREATE OR REPLACE FUNCTION notify_workflow_execution_status_changed()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
BEGIN
    payload := json_build_object(
        'entity_type', 'execution',
        'entity_id', NEW.id,
        'id', NEW.id,
        'action_ref', NEW.action_ref,
        'status', NEW.status,
        'old_status', OLD.status,
        'workflow_def', NEW.workflow_def,
        'parent', NEW.parent,
        'created', NEW.created,
        'updated', NEW.updated
    );

    PERFORM pg_notify('workflow_execution_status_changed', payload::text);

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER workflow_execution_status_changed_notify
    AFTER UPDATE ON execution
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.workflow_def IS NOT NULL)
    EXECUTE FUNCTION notify_workflow_execution_status_changed();
