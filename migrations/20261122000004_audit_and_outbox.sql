-- Append-only audit trail of writes of consequence. The app role may insert and read, never
-- update or delete; the trigger stops even the owner from rewriting history.
create table audit_events (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    actor_kind text not null check (actor_kind in ('user', 'operator', 'system', 'anonymous')),
    actor_id uuid,
    action text not null,
    target_type text not null,
    target_id text,
    ip inet,
    details jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id)
);
create index audit_events_listing on audit_events (tenant_id, created_at desc, id desc);

create function audit_events_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'audit_events is append-only';
end
$$;
create trigger audit_events_no_update before update or delete on audit_events
    for each row execute function audit_events_append_only();
-- TRUNCATE fires no row triggers; refuse it too, or the owner could still erase the trail.
create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function audit_events_append_only();

-- Outgoing email. Written in the same transaction as the change that causes it and delivered
-- after commit by the dispatcher (SMTP when configured; otherwise the log is the delivery).
create table email_outbox (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    recipient text not null,
    subject text not null,
    body_text text not null,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    primary key (tenant_id, id)
);
create index email_outbox_pending on email_outbox (next_attempt_at) where sent_at is null;

alter table audit_events enable row level security;
alter table audit_events force row level security;
alter table email_outbox enable row level security;
alter table email_outbox force row level security;

create policy tenant_isolation on audit_events to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on email_outbox to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert on audit_events, email_outbox to lms_app;
grant select, insert on audit_events to lms_operator;
grant select, insert, update, delete on email_outbox to lms_operator;
