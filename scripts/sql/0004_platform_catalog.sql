-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0004: platform catalog ownership and component retirement for runtime, runtime_version
-- and action (spec 04 §1.4, §3.2, §3.3, §3.5, §3.14). Restates upstream
-- 20260916000001_platform_catalog, 20260916000002_catalog_bootstrap_and_release_lock and
-- 20260916000003_component_retirement and 20260919000002_absent_metadata_policy @126b167
-- (runtime_version.managed_release + guard, action.omission_disabled), limited to the
-- tables of this fixture (upstream loops over eleven component tables).

SET search_path TO attune, public;

CREATE TYPE management_origin AS ENUM ('platform', 'pack', 'ad_hoc');

-- ============================================================================
-- PLATFORM_CATALOG_STATE — read on every connect for the epoch check (spec 04 §1.4).
-- Upstream's migration seeds (1, 0) and the API's reconciliation moves it to revision 1;
-- this fixture seeds the reconciled state (1, 1) because 0008 seeds the catalog runtimes.
-- ============================================================================

CREATE TABLE platform_catalog_state (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    compatibility_epoch INTEGER NOT NULL CHECK (compatibility_epoch > 0),
    revision INTEGER NOT NULL CHECK (revision >= 0)
);

ALTER TABLE platform_catalog_state
    ADD COLUMN bootstrap_definitions JSONB NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(bootstrap_definitions) = 'object');

INSERT INTO platform_catalog_state (singleton, compatibility_epoch, revision) VALUES (TRUE, 1, 1);

-- ============================================================================
-- OWNERSHIP COLUMNS (generated management_origin; spec 04 §3.2)
-- ============================================================================

ALTER TABLE runtime
    ADD COLUMN catalog_revision INTEGER CHECK (catalog_revision > 0),
    ADD COLUMN managed_release BIGINT,
    ADD COLUMN management_origin management_origin GENERATED ALWAYS AS (
        CASE WHEN catalog_revision IS NOT NULL THEN 'platform'::management_origin
             WHEN pack IS NULL THEN 'ad_hoc'::management_origin
             ELSE 'pack'::management_origin END
    ) STORED,
    ADD CONSTRAINT runtime_platform_owner CHECK (catalog_revision IS NULL OR (pack IS NULL AND NOT (FALSE)));
ALTER TABLE runtime
    ADD CONSTRAINT runtime_managed_release_owner FOREIGN KEY (pack, managed_release)
        REFERENCES pack_release(pack, id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT runtime_managed_release_origin CHECK (management_origin = 'pack' OR managed_release IS NULL);

ALTER TABLE action
    ADD COLUMN catalog_revision INTEGER CHECK (catalog_revision > 0),
    ADD COLUMN managed_release BIGINT,
    ADD COLUMN management_origin management_origin GENERATED ALWAYS AS (
        CASE WHEN catalog_revision IS NOT NULL THEN 'platform'::management_origin
             WHEN is_adhoc OR pack IS NULL THEN 'ad_hoc'::management_origin
             ELSE 'pack'::management_origin END
    ) STORED,
    ADD CONSTRAINT action_platform_owner CHECK (catalog_revision IS NULL OR (pack IS NULL AND NOT (is_adhoc OR FALSE)));
ALTER TABLE action
    ADD CONSTRAINT action_managed_release_owner FOREIGN KEY (pack, managed_release)
        REFERENCES pack_release(pack, id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT action_managed_release_origin CHECK (management_origin = 'pack' OR managed_release IS NULL);

-- Keeps managed_release = the owning pack's active release (latest upstream version, with
-- FOR SHARE from 20260916000002).
CREATE FUNCTION set_component_managed_release() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE owner_id BIGINT;
BEGIN
    owner_id := (to_jsonb(NEW)->>TG_ARGV[0])::BIGINT;
    IF NEW.catalog_revision IS NOT NULL OR owner_id IS NULL OR
       COALESCE((to_jsonb(NEW)->>'is_adhoc')::BOOLEAN, FALSE) THEN
        NEW.managed_release := NULL;
    ELSIF TG_OP = 'INSERT' OR
          (to_jsonb(NEW)->TG_ARGV[0]) IS DISTINCT FROM (to_jsonb(OLD)->TG_ARGV[0]) THEN
        SELECT active_release INTO NEW.managed_release FROM pack
            WHERE id = owner_id FOR SHARE;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER set_component_managed_release BEFORE INSERT OR UPDATE ON runtime
    FOR EACH ROW EXECUTE FUNCTION set_component_managed_release('pack');
CREATE TRIGGER set_component_managed_release BEFORE INSERT OR UPDATE ON action
    FOR EACH ROW EXECUTE FUNCTION set_component_managed_release('pack');

-- Platform-owned rows change only inside a transaction that set
-- set_config('attune.catalog_write', 'on', true). The agent never sets it (spec 04 §3.2).
CREATE FUNCTION guard_platform_component() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.catalog_revision IS NOT NULL THEN
            RAISE EXCEPTION 'platform-owned % cannot be deleted', TG_TABLE_NAME;
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.catalog_revision IS NOT NULL OR
       (TG_OP = 'UPDATE' AND OLD.catalog_revision IS NOT NULL) THEN
        IF current_setting('attune.catalog_write', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'platform-owned % may only be changed by catalog reconciliation', TG_TABLE_NAME;
        END IF;
        IF TG_OP = 'UPDATE' AND OLD.catalog_revision IS NOT NULL AND
           (NEW.catalog_revision IS NULL OR NEW.catalog_revision < OLD.catalog_revision OR
            (to_jsonb(NEW)->'ref') IS DISTINCT FROM (to_jsonb(OLD)->'ref')) THEN
            RAISE EXCEPTION 'platform ownership and revision cannot be downgraded';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER guard_platform_component BEFORE INSERT OR UPDATE OR DELETE ON runtime
    FOR EACH ROW EXECUTE FUNCTION guard_platform_component();
CREATE TRIGGER guard_platform_component BEFORE INSERT OR UPDATE OR DELETE ON action
    FOR EACH ROW EXECUTE FUNCTION guard_platform_component();

-- Versions of platform runtimes: only `available`, `verified_at`, `updated` may change
-- outside reconciliation — exactly what version verification writes (spec 01 §8.1).
CREATE FUNCTION guard_platform_runtime_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE parent_id BIGINT;
BEGIN
    parent_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.runtime ELSE NEW.runtime END;
    IF EXISTS (SELECT 1 FROM runtime WHERE id = parent_id AND catalog_revision IS NOT NULL)
       OR (TG_OP = 'UPDATE' AND EXISTS (
           SELECT 1 FROM runtime WHERE id = OLD.runtime AND catalog_revision IS NOT NULL
       )) THEN
        IF TG_OP = 'UPDATE' AND
           (to_jsonb(NEW) - ARRAY['available', 'verified_at', 'updated']) =
           (to_jsonb(OLD) - ARRAY['available', 'verified_at', 'updated']) THEN
            RETURN NEW;
        END IF;
        IF current_setting('attune.catalog_write', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'platform runtime versions may only be changed by catalog reconciliation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER guard_platform_runtime_version BEFORE INSERT OR UPDATE OR DELETE ON runtime_version
    FOR EACH ROW EXECUTE FUNCTION guard_platform_runtime_version();

-- ============================================================================
-- COMPONENT RETIREMENT (upstream 20260916000003)
-- ============================================================================

ALTER TABLE runtime ADD COLUMN retired_at TIMESTAMPTZ;
CREATE INDEX idx_runtime_active ON runtime (retired_at) WHERE retired_at IS NULL;

ALTER TABLE action ADD COLUMN retired_at TIMESTAMPTZ;
CREATE INDEX idx_action_active ON action (retired_at) WHERE retired_at IS NULL;

ALTER TABLE runtime_version ADD COLUMN retired_at TIMESTAMPTZ;
CREATE INDEX idx_runtime_version_active ON runtime_version (runtime, version)
    WHERE retired_at IS NULL;

-- Operators own enabled_override; omission (a component missing from the newest pack
-- release under absent_metadata_policy 'disable') is an independent gate. The repository
-- reads effective_enabled AS enabled. Upstream 20260919000002 drops and regenerates the
-- column; this fixture creates it in its final form.
ALTER TABLE action
    ADD COLUMN enabled_override BOOLEAN,
    ADD COLUMN omission_disabled BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN effective_enabled BOOLEAN GENERATED ALWAYS AS (
        NOT omission_disabled AND COALESCE(enabled_override, enabled)
    ) STORED;

CREATE OR REPLACE FUNCTION guard_runtime_version_lifecycle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.retired_at IS NULL AND EXISTS (
        SELECT 1 FROM runtime WHERE id = NEW.runtime AND retired_at IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'active runtime version requires an active parent runtime';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER guard_runtime_version_lifecycle
    BEFORE INSERT OR UPDATE OF runtime, retired_at ON runtime_version
    FOR EACH ROW EXECUTE FUNCTION guard_runtime_version_lifecycle();

-- ============================================================================
-- RUNTIME_VERSION.MANAGED_RELEASE (upstream 20260919000002): the pack release that owns a
-- pack-origin runtime's version row; a non-null value must be a release of the runtime's
-- pack. Catalog (platform) and ad-hoc (auto.*) versions keep NULL.
-- ============================================================================

ALTER TABLE runtime_version
    ADD COLUMN managed_release BIGINT REFERENCES pack_release(id)
        DEFERRABLE INITIALLY DEFERRED;

CREATE FUNCTION guard_runtime_version_managed_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.managed_release IS NOT NULL AND NOT EXISTS (
        SELECT 1
        FROM runtime r
        JOIN pack_release pr ON pr.id = NEW.managed_release AND pr.pack = r.pack
        WHERE r.id = NEW.runtime AND r.management_origin = 'pack'
    ) THEN
        RAISE EXCEPTION 'runtime version managed release must belong to its runtime pack';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER guard_runtime_version_managed_release
    BEFORE INSERT OR UPDATE OF runtime, managed_release ON runtime_version
    FOR EACH ROW EXECUTE FUNCTION guard_runtime_version_managed_release();
