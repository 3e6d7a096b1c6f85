-- Durable background jobs.
--
-- A job is a row, inserted in the transaction of the change that causes it, so it exists exactly
-- when that change committed. Workers claim due jobs (operator role, FOR UPDATE SKIP LOCKED),
-- hold a lease they renew while the job runs, and run the job's work in its tenant's transaction
-- as the app role. Every claim increments `fence`; completing or failing a job must present the
-- fence of its claim, so a worker whose lease expired (and whose job another worker took over)
-- cannot overwrite the newer run's result.
create table jobs (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    kind text not null check (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' and length(kind) <= 100),
    payload jsonb not null default '{}'::jsonb,
    -- Higher first within a tenant; tenants take turns whatever their priorities.
    priority smallint not null default 0,
    state text not null default 'queued' check (state in ('queued', 'running', 'succeeded', 'dead')),
    run_at timestamptz not null default now(),
    attempts integer not null default 0 check (attempts >= 0),
    max_attempts integer not null check (max_attempts between 1 and 100),
    last_error text check (length(last_error) <= 2000),
    lease_owner text,
    lease_expires_at timestamptz,
    fence bigint not null default 0,
    -- Enqueueing a job whose (kind, unique_key) a kept job already has is a no-op.
    unique_key text check (length(unique_key) between 1 and 200),
    created_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    primary key (tenant_id, id),
    check ((state = 'running') = (lease_owner is not null and lease_expires_at is not null)),
    check ((state in ('succeeded', 'dead')) = (finished_at is not null))
);
create unique index jobs_unique_key on jobs (tenant_id, kind, unique_key) where unique_key is not null;
-- The claim walks tenants with queued jobs (a skip scan), keeps those whose earliest job is due
-- (jobs_next_run), then takes each one's next jobs in order (jobs_due).
create index jobs_due on jobs (tenant_id, priority desc, run_at, id) where state = 'queued';
create index jobs_next_run on jobs (tenant_id, run_at) where state = 'queued';
create index jobs_leases on jobs (lease_expires_at) where state = 'running';
create index jobs_listing on jobs (tenant_id, state, id desc);
create index jobs_finished on jobs (finished_at) where finished_at is not null;

alter table jobs enable row level security;
alter table jobs force row level security;
create policy tenant_isolation on jobs to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- The app role enqueues, reads its tenant's jobs, completes a job in the transaction of its work
-- and re-runs dead jobs; it never rewrites what a job is.
grant select, insert on jobs to lms_app;
grant update (state, run_at, attempts, last_error, lease_owner, lease_expires_at, finished_at) on jobs to lms_app;
grant select, insert, update, delete on jobs to lms_operator;

-- Recurring platform work (cron expressions). Not tenant data: a schedule's task runs as the
-- operator role and enqueues tenant jobs. The row lock makes one process run each firing.
create table job_schedules (
    name text primary key check (length(name) <= 100),
    cron text not null,
    next_run_at timestamptz not null,
    last_run_at timestamptz
);
grant select, insert, update, delete on job_schedules to lms_operator;

-- The email outbox becomes jobs of kind `email.send`: unsent mail is carried over.
insert into jobs (tenant_id, id, kind, payload, state, run_at, attempts, max_attempts, last_error, created_at)
select tenant_id, id, 'email.send',
       jsonb_build_object('to', recipient, 'subject', subject, 'body', body_text),
       'queued', next_attempt_at, least(attempts, 11), 12, left(last_error, 2000), created_at
from email_outbox
where sent_at is null and attempts < 12;
drop table email_outbox;
