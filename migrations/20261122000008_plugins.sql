-- The plugin registry: each tenant's uploaded plugin versions (component bytes kept here,
-- content-addressed by SHA-256), their installs and capability grants, trusted publisher keys,
-- the registry's settings and the bounded log of invocations. Every table is tenant-owned:
-- tenant_id leads every key, foreign key and index, and row-level security confines the app role
-- to app.tenant_id.
--
-- The first-party catalog is platform reference data (no tenant_id), like `tenants`: every
-- request may read it, only the operator role writes it (at start-up, from the built artifacts).

create table plugin_catalog (
    name text primary key check (name ~ '^[a-z][a-z0-9-]{1,62}[a-z0-9]$'),
    version text not null,
    manifest jsonb not null,
    sha256 bytea not null check (length(sha256) = 32),
    component bytea not null,
    registered_at timestamptz not null default now()
);
alter table plugin_catalog enable row level security;
alter table plugin_catalog force row level security;
create policy plugin_catalog_read on plugin_catalog for select to lms_app using (true);
grant select on plugin_catalog to lms_app;
grant select, insert, update, delete on plugin_catalog to lms_operator;

-- Component bytes, once per tenant and content.
create table plugin_components (
    tenant_id uuid not null references tenants (id) on delete cascade,
    sha256 bytea not null check (length(sha256) = 32),
    bytes bytea not null,
    size_bytes integer not null check (size_bytes >= 0),
    created_at timestamptz not null default now(),
    primary key (tenant_id, sha256)
);

create table plugins (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    name text not null check (name ~ '^[a-z][a-z0-9-]{1,62}[a-z0-9]$'),
    world text not null check (world in ('grader')),
    enabled boolean not null default false,
    -- The version calls run; set by install and rollback (foreign key added below).
    active_version_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint plugins_name_key unique (tenant_id, name)
);
create trigger plugins_updated_at before update on plugins
    for each row execute function set_updated_at();

create table plugin_versions (
    tenant_id uuid not null,
    id uuid not null,
    plugin_id uuid not null,
    version text not null check (length(version) between 5 and 100),
    -- The manifest as uploaded (name, version, world, capabilities, config_schema, description).
    manifest jsonb not null,
    capabilities text[] not null,
    sha256 bytea not null,
    size_bytes integer not null,
    wit_version text not null,
    source text not null check (source in ('upload', 'catalog')),
    -- The trusted publisher key whose signature was verified at upload, if any. Not a foreign
    -- key: removing a key later stops future uploads, not versions already verified.
    signed_by uuid,
    uploaded_by uuid not null,
    uploaded_at timestamptz not null default now(),
    -- Set together by install: the grant is explicit and recorded with who made it.
    installed_at timestamptz,
    granted_capabilities text[],
    granted_by uuid,
    primary key (tenant_id, id),
    constraint plugin_versions_version_key unique (tenant_id, plugin_id, version),
    foreign key (tenant_id, plugin_id) references plugins (tenant_id, id) on delete cascade,
    foreign key (tenant_id, sha256) references plugin_components (tenant_id, sha256),
    foreign key (tenant_id, uploaded_by) references users (tenant_id, id),
    foreign key (tenant_id, granted_by) references users (tenant_id, id),
    constraint plugin_versions_install check (
        (installed_at is null) = (granted_capabilities is null)
        and (installed_at is null) = (granted_by is null)
    )
);
create index plugin_versions_component on plugin_versions (tenant_id, sha256);

alter table plugins add constraint plugins_active_version_fkey
    foreign key (tenant_id, active_version_id) references plugin_versions (tenant_id, id);

create table plugin_publisher_keys (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    name text not null check (length(name) between 1 and 200),
    public_key bytea not null check (length(public_key) = 32),
    added_by uuid not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint plugin_publisher_keys_key_key unique (tenant_id, public_key),
    foreign key (tenant_id, added_by) references users (tenant_id, id)
);

-- One row per tenant that changed a setting; no row means the defaults.
create table plugin_registry_settings (
    tenant_id uuid not null references tenants (id) on delete cascade,
    require_signatures boolean not null default false,
    updated_at timestamptz not null default now(),
    primary key (tenant_id)
);
create trigger plugin_registry_settings_updated_at before update on plugin_registry_settings
    for each row execute function set_updated_at();

-- The most recent invocations per tenant (pruned on insert), for tenant admins.
create table plugin_invocations (
    tenant_id uuid not null,
    id uuid not null,
    plugin_id uuid not null,
    plugin_name text not null,
    version text not null,
    wit_version text,
    wall_time_us bigint not null,
    fuel_used bigint,
    peak_memory_bytes bigint not null,
    outcome text not null,
    invoked_by uuid not null,
    invoked_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, plugin_id) references plugins (tenant_id, id) on delete cascade
);

do $$
declare
    t text;
begin
    foreach t in array array['plugin_components', 'plugins', 'plugin_versions',
                             'plugin_publisher_keys', 'plugin_registry_settings',
                             'plugin_invocations']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format($p$create policy tenant_isolation on %I to lms_app
            using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
            with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
    end loop;
end
$$;

-- Component bytes and versions are immutable: no UPDATE or DELETE on them for the app role.
grant select, insert on plugin_components to lms_app;
grant select, insert on plugin_versions to lms_app;
grant update (installed_at, granted_capabilities, granted_by) on plugin_versions to lms_app;
grant select, insert, update on plugins to lms_app;
grant select, insert, delete on plugin_publisher_keys to lms_app;
grant select, insert, update on plugin_registry_settings to lms_app;
grant select, insert, delete on plugin_invocations to lms_app;
grant select on plugin_components, plugins, plugin_versions, plugin_publisher_keys,
    plugin_registry_settings, plugin_invocations to lms_operator;
