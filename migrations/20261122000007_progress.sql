-- Learner progress through a course's items, and the domain events other features consume.
-- Every table is tenant-owned: tenant_id leads every key, foreign key and index, and row-level
-- security confines the app role to app.tenant_id.
--
-- Rules (enforced by the progress service, which holds the enrollment's row lock while it writes,
-- so reports for one learner and course apply one at a time and none is lost):
-- * completion is sticky: once `completed_at` is set no later report clears it;
-- * time is reported per viewing session as the session's running total, so a repeated or
--   reordered report never counts twice: an item's time is the sum over its sessions of the
--   largest total each reported;
-- * within a session the position only moves forward; the resume point follows the newest
--   session (the one first seen last), so a late report from an older session cannot rewind it.

create table item_progress (
    tenant_id uuid not null,
    enrollment_id uuid not null,
    item_id uuid not null,
    completed_at timestamptz,
    -- Where the learner resumes (the newest session's furthest position), in seconds.
    position_seconds integer not null default 0 check (position_seconds >= 0),
    furthest_position_seconds integer not null default 0 check (furthest_position_seconds >= 0),
    time_spent_seconds bigint not null default 0 check (time_spent_seconds >= 0),
    -- The newest viewing session, which owns the resume point.
    current_session uuid,
    first_accessed_at timestamptz not null default now(),
    last_accessed_at timestamptz not null default now(),
    primary key (tenant_id, enrollment_id, item_id),
    foreign key (tenant_id, enrollment_id) references enrollments (tenant_id, id) on delete cascade,
    foreign key (tenant_id, item_id) references course_items (tenant_id, id) on delete cascade
);
create index item_progress_item on item_progress (tenant_id, item_id);

create table item_sessions (
    tenant_id uuid not null,
    enrollment_id uuid not null,
    item_id uuid not null,
    session_id uuid not null,
    time_seconds integer not null check (time_seconds >= 0),
    position_seconds integer check (position_seconds >= 0),
    started_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, enrollment_id, item_id, session_id),
    foreign key (tenant_id, enrollment_id) references enrollments (tenant_id, id) on delete cascade,
    foreign key (tenant_id, item_id) references course_items (tenant_id, id) on delete cascade
);
create index item_sessions_item on item_sessions (tenant_id, item_id);

-- Facts other features react to (notifications, certificates, webhooks). Append-only for the
-- app role; a consumer records its own position instead of updating rows.
create table domain_events (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    kind text not null check (kind ~ '^[a-z_]+(\.[a-z_]+)+$'),
    subject_id uuid not null,
    payload jsonb not null default '{}',
    occurred_at timestamptz not null default now(),
    primary key (tenant_id, id)
);
create index domain_events_kind on domain_events (tenant_id, kind, id);

-- The instructor's progress table filters a course's learners by their last activity.
create index enrollments_course_activity
    on enrollments (tenant_id, course_id, last_activity_at);

alter table item_progress enable row level security;
alter table item_progress force row level security;
alter table item_sessions enable row level security;
alter table item_sessions force row level security;
alter table domain_events enable row level security;
alter table domain_events force row level security;
create policy tenant_isolation on item_progress to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on item_sessions to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on domain_events to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update on item_progress, item_sessions to lms_app;
grant select, insert on domain_events to lms_app;
-- Cross-tenant reporting and event delivery read only.
grant select on item_progress, item_sessions, domain_events to lms_operator;
