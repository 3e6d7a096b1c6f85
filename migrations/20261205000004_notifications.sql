-- In-app notifications, created from domain events.
--
-- A statement-level trigger on `domain_events` queues one `notifications.from_event` job per
-- event of a type that notifies someone, in the transaction that wrote the event: the job exists
-- exactly when the change committed. The job (in its tenant's transaction, as the app role)
-- writes the recipient's notification, honouring their preferences, and queues their email.

create table notifications (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    user_id uuid not null,
    -- The event type that caused it, e.g. `assignment.graded`.
    kind text not null check (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' and length(kind) <= 100),
    title text not null check (length(title) between 1 and 300),
    body text not null default '' check (length(body) <= 2000),
    -- Where the app opens it: a path of the tenant's app, e.g. `/courses/<id>`.
    link text check (link ~ '^/' and length(link) <= 500),
    -- What it is about (the enrollment, attempt or submission), and the event that caused it.
    subject_id uuid,
    event_id uuid,
    -- Per recipient, in commit order: the stream resumes by it with no gaps (see `seq` below).
    seq bigint not null check (seq >= 1),
    read_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
    -- A job run twice writes one notification per recipient and event.
    unique (tenant_id, user_id, event_id),
    unique (tenant_id, user_id, seq)
);
-- The inbox: a user's notifications newest first, and the unread ones.
create index notifications_inbox on notifications (tenant_id, user_id, id desc);
create index notifications_unread on notifications (tenant_id, user_id, id) where read_at is null;

-- Each user's last notification number. Writing a notification increments it in the writer's
-- transaction, so the row lock orders a user's notifications by commit: a stream that has sent
-- number n has seen every notification numbered below n, whichever process wrote it.
create table notification_sequences (
    tenant_id uuid not null,
    user_id uuid not null,
    last_seq bigint not null check (last_seq >= 0),
    primary key (tenant_id, user_id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

-- A user's choices per notification type; a type without a row takes the defaults (in the app
-- yes, by email no).
create table notification_preferences (
    tenant_id uuid not null,
    user_id uuid not null,
    kind text not null check (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' and length(kind) <= 100),
    in_app boolean not null,
    email boolean not null,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, user_id, kind),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create trigger notification_preferences_updated_at before update on notification_preferences
    for each row execute function set_updated_at();

-- A user's daily digest by email of the notifications they have not read; when it last went.
create table notification_settings (
    tenant_id uuid not null,
    user_id uuid not null,
    digest text not null check (digest in ('off', 'daily')),
    digest_sent_at timestamptz,
    primary key (tenant_id, user_id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

alter table notifications enable row level security;
alter table notifications force row level security;
create policy tenant_isolation on notifications to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table notification_sequences enable row level security;
alter table notification_sequences force row level security;
create policy tenant_isolation on notification_sequences to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table notification_preferences enable row level security;
alter table notification_preferences force row level security;
create policy tenant_isolation on notification_preferences to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table notification_settings enable row level security;
alter table notification_settings force row level security;
create policy tenant_isolation on notification_settings to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Jobs write notifications and mark them read; nothing rewrites what a notification says.
grant select, insert on notifications to lms_app;
grant update (read_at) on notifications to lms_app;
grant select, insert, update (last_seq) on notification_sequences to lms_app;
grant select, insert, update (in_app, email, updated_at), delete on notification_preferences to lms_app;
grant select, insert, update (digest, digest_sent_at) on notification_settings to lms_app;
-- The daily digest's schedule finds, across tenants, whom to send one to.
grant select on notifications, notification_settings to lms_operator;

-- Queues a `notifications.from_event` job for each new event of a type that notifies someone
-- (a new type, e.g. `certificate.issued`, is a migration that replaces this function and an arm
-- of `notifications::NotifyingEvent`).
-- It runs as the role that wrote the events (row-level security applies to its insert), and
-- its job is unique per event. `max_attempts` is the kind's (`Retry::DEFAULT`, 20).
create function notifications_from_events() returns trigger
language plpgsql as $$
begin
    insert into jobs (tenant_id, id, kind, payload, max_attempts, unique_key)
    select e.tenant_id, lms_uuid_v7(), 'notifications.from_event',
           jsonb_build_object('event', e.id), 20, e.id::text
    from new_events e
    where e.kind in ('enrollment.created', 'quiz.attempt.graded', 'assignment.graded',
                     'course.completed')
    on conflict (tenant_id, kind, unique_key) where unique_key is not null do nothing;
    if found then
        perform pg_notify('lms_jobs', '');
    end if;
    return null;
end
$$;

create trigger domain_events_notify after insert on domain_events
    referencing new table as new_events
    for each statement execute function notifications_from_events();
