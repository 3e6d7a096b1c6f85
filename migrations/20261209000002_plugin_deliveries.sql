-- Integration plugins receive the tenant's domain events through the job queue.
--
-- An install's settings (what a tenant admin configured for an integration: its settings, its
-- sealed secrets, the hosts it may call and the event types it receives) and its key-value
-- store. A statement-level trigger on `domain_events` queues one `plugins.deliver_event` job per
-- (event, enabled integration subscribed to the event's type), in the transaction that wrote
-- the event; each job retries with backoff and ends dead after its attempts, for that install
-- alone.

-- Deliveries are made by jobs, for no user.
alter table plugin_invocations alter column invoked_by drop not null;

create table plugin_install_settings (
    tenant_id uuid not null,
    plugin_id uuid not null,
    -- Satisfies the active version's config schema (checked by the server).
    settings jsonb not null default '{}'::jsonb
        check (jsonb_typeof(settings) = 'object' and pg_column_size(settings) <= 65536),
    -- Secret name -> base64 of the value sealed by `secrets_at_rest` (never returned).
    secrets jsonb not null default '{}'::jsonb
        check (jsonb_typeof(secrets) = 'object' and pg_column_size(secrets) <= 65536),
    -- Host names (optionally with a port) the plugin's HTTP requests may reach.
    allowed_hosts text[] not null default '{}' check (cardinality(allowed_hosts) <= 20),
    -- Event types delivered to the plugin.
    event_types text[] not null default '{}' check (cardinality(event_types) <= 50),
    updated_by uuid,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, plugin_id),
    foreign key (tenant_id, plugin_id) references plugins (tenant_id, id) on delete cascade,
    foreign key (tenant_id, updated_by) references users (tenant_id, id)
);
create trigger plugin_install_settings_updated_at before update on plugin_install_settings
    for each row execute function set_updated_at();

create table plugin_kv (
    tenant_id uuid not null,
    plugin_id uuid not null,
    key text not null check (length(key) between 1 and 256),
    value bytea not null,
    primary key (tenant_id, plugin_id, key),
    foreign key (tenant_id, plugin_id) references plugins (tenant_id, id) on delete cascade
);

alter table plugin_install_settings enable row level security;
alter table plugin_install_settings force row level security;
create policy tenant_isolation on plugin_install_settings to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table plugin_kv enable row level security;
alter table plugin_kv force row level security;
create policy tenant_isolation on plugin_kv to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update (settings, secrets, allowed_hosts, event_types, updated_by, updated_at)
    on plugin_install_settings to lms_app;
grant select, insert, update (value), delete on plugin_kv to lms_app;

-- One job per event and subscribed, enabled integration; unique per pair, so a replayed
-- insert queues nothing twice. `max_attempts` is the kind's (`DeliverEvent::RETRY`, 10).
create function plugin_deliveries_from_events() returns trigger
language plpgsql as $$
declare
    queued integer;
begin
    with jobs_queued as (
        insert into jobs (tenant_id, id, kind, payload, max_attempts, unique_key)
        select e.tenant_id, lms_uuid_v7(), 'plugins.deliver_event',
               jsonb_build_object('event', e.id, 'plugin', p.id), 10,
               e.id::text || '/' || p.id::text
        from new_events e
        join plugins p
          on p.tenant_id = e.tenant_id and p.world = 'integration' and p.enabled
        join plugin_install_settings s
          on s.tenant_id = p.tenant_id and s.plugin_id = p.id and e.kind = any (s.event_types)
        on conflict (tenant_id, kind, unique_key) where unique_key is not null do nothing
        returning 1
    )
    select count(*) into queued from jobs_queued;
    if queued > 0 then
        perform pg_notify('lms_jobs', '');
    end if;
    return null;
end
$$;
create trigger domain_events_plugin_deliveries after insert on domain_events
    referencing new table as new_events
    for each statement execute function plugin_deliveries_from_events();
