-- Verifiable certificates: per-tenant Ed25519 issuer keys, certificate templates (per course or a
-- tenant default), and the certificates themselves with their signed credentials.
--
-- A statement-level trigger on `domain_events` queues one `certificates.issue` job per
-- `course.completed` event, unique per event, in the transaction that wrote the event. The job
-- (in its tenant's transaction, as the app role) applies the issuance rules and writes at most
-- one live certificate per learner and course: the partial unique index below makes a second
-- completion (or a second delivery of one) a no-op, and `event_id` is unique so one event never
-- issues twice, even after a revocation.

-- A tenant's issuer keys. The private key is sealed at rest (`secrets_at_rest`), bound to the
-- tenant and key id; the public key is published in the tenant's `did:web` document. One key is
-- current (not retired); retired keys stay published so older credentials still verify.
create table certificate_issuer_keys (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    -- Raw Ed25519 public key.
    public_key bytea not null check (length(public_key) = 32),
    sealed_private_key bytea not null check (length(sealed_private_key) between 40 and 200),
    created_at timestamptz not null default now(),
    retired_at timestamptz,
    primary key (tenant_id, id)
);
create unique index certificate_issuer_keys_current on certificate_issuer_keys (tenant_id)
    where retired_at is null;

-- What a course's certificates say (or, with no course, the tenant's default for every course
-- without its own). A course issues certificates when it or the tenant has a template.
create table certificate_templates (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    course_id uuid,
    -- The achievement's name, e.g. `Certified Data Steward`.
    title text not null check (length(title) between 1 and 200),
    description text not null default '' check (length(description) <= 2000),
    -- How it is earned (the Open Badges `criteria.narrative`).
    criteria text not null check (length(criteria) between 1 and 2000),
    signatory_name text check (length(signatory_name) between 1 and 200),
    signatory_title text check (length(signatory_title) between 1 and 200),
    -- Hours of learning, and credits per accrediting body (`[{"body": "PMI", "credits": 2.5}]`),
    -- which the continuing-education exports read.
    credit_hours numeric(7, 2) check (credit_hours >= 0),
    credits jsonb not null default '[]' check (jsonb_typeof(credits) = 'array'),
    -- Issued only to learners whose final course grade reaches this percentage.
    min_grade_percent numeric(5, 2) check (min_grade_percent between 0 and 100),
    -- Certificates expire this many days after issuance (never when null).
    valid_days integer check (valid_days between 1 and 36500),
    -- The layout of the PDF and the verification page, in the tenant's branding.
    design text not null default 'classic' check (design in ('classic', 'modern')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade,
    -- One template per course, and one tenant default (the null course).
    unique nulls not distinct (tenant_id, course_id)
);
create trigger certificate_templates_updated_at before update on certificate_templates
    for each row execute function set_updated_at();

-- Each tenant's next free index in its Bitstring Status List (one bit per certificate: set when
-- revoked).
create table certificate_status_lists (
    tenant_id uuid not null primary key references tenants (id) on delete cascade,
    next_index integer not null check (next_index >= 0)
);

create table certificates (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    course_id uuid not null,
    user_id uuid not null,
    -- `automatic` (course completion) or `manual` (a tenant admin).
    source text not null check (source in ('automatic', 'manual')),
    -- The completion event that issued it (automatic), unique: one event issues once.
    event_id uuid,
    issued_by uuid,
    -- What the certificate says, as issued (later template edits do not rewrite it).
    recipient_name text not null check (length(recipient_name) between 1 and 300),
    course_title text not null check (length(course_title) between 1 and 300),
    title text not null check (length(title) between 1 and 200),
    description text not null check (length(description) <= 2000),
    criteria text not null check (length(criteria) between 1 and 2000),
    signatory_name text,
    signatory_title text,
    credit_hours numeric(7, 2),
    credits jsonb not null default '[]' check (jsonb_typeof(credits) = 'array'),
    -- The learner's final course grade when it was issued, if the course has a gradebook.
    grade_percent numeric(5, 2),
    design text not null check (design in ('classic', 'modern')),
    issued_at timestamptz not null,
    expires_at timestamptz check (expires_at > issued_at),
    -- The certificate's bit in the tenant's status list (131,072 bits per list).
    status_index integer not null check (status_index between 0 and 131071),
    -- The signing key and the signed Open Badges credential (JSON-LD with its proof).
    key_id uuid,
    credential jsonb,
    revoked_at timestamptz,
    revoked_by uuid,
    revocation_reason text check (length(revocation_reason) between 1 and 500),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
    foreign key (tenant_id, issued_by) references users (tenant_id, id) on delete set null (issued_by),
    foreign key (tenant_id, revoked_by) references users (tenant_id, id) on delete set null (revoked_by),
    foreign key (tenant_id, key_id) references certificate_issuer_keys (tenant_id, id),
    unique (tenant_id, event_id),
    unique (tenant_id, status_index),
    check ((revoked_at is null) = (revocation_reason is null)),
    check ((source = 'automatic') = (event_id is not null))
);
-- At most one live (unrevoked) certificate per learner and course.
create unique index certificates_live on certificates (tenant_id, course_id, user_id)
    where revoked_at is null;
-- A learner's certificates, newest first; the admin list by course.
create index certificates_of_user on certificates (tenant_id, user_id, id desc);
create index certificates_of_course on certificates (tenant_id, course_id, id desc);

alter table certificate_issuer_keys enable row level security;
alter table certificate_issuer_keys force row level security;
create policy tenant_isolation on certificate_issuer_keys to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table certificate_templates enable row level security;
alter table certificate_templates force row level security;
create policy tenant_isolation on certificate_templates to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table certificate_status_lists enable row level security;
alter table certificate_status_lists force row level security;
create policy tenant_isolation on certificate_status_lists to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table certificates enable row level security;
alter table certificates force row level security;
create policy tenant_isolation on certificates to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Keys are created, never rewritten (a rotation retires one); certificates are issued and then
-- only revoked; nothing deletes either.
grant select, insert on certificate_issuer_keys to lms_app;
grant update (retired_at) on certificate_issuer_keys to lms_app;
grant select, insert, update (title, description, criteria, signatory_name, signatory_title,
    credit_hours, credits, min_grade_percent, valid_days, design, updated_at), delete
    on certificate_templates to lms_app;
grant select, insert, update (next_index) on certificate_status_lists to lms_app;
grant select, insert on certificates to lms_app;
grant update (revoked_at, revoked_by, revocation_reason) on certificates to lms_app;
-- Public verification finds a certificate by its id alone, whichever tenant issued it, and
-- reads only what anyone verifying it may know: the credential, its status-list bit and
-- whether it is revoked, and the issuer's public keys.
grant select (tenant_id, id, credential, status_index, revoked_at) on certificates to lms_operator;
grant select (tenant_id, id, public_key, created_at, retired_at) on certificate_issuer_keys
    to lms_operator;

-- Queues a `certificates.issue` job for each new `course.completed` event. It runs as the role
-- that wrote the events (row-level security applies to its insert), and its job is unique per
-- event. `max_attempts` is the kind's (`Retry::DEFAULT`, 20).
create function certificates_from_events() returns trigger
language plpgsql as $$
begin
    insert into jobs (tenant_id, id, kind, payload, max_attempts, unique_key)
    select e.tenant_id, lms_uuid_v7(), 'certificates.issue',
           jsonb_build_object('event', e.id), 20, e.id::text
    from new_events e
    where e.kind = 'course.completed'
    on conflict (tenant_id, kind, unique_key) where unique_key is not null do nothing;
    if found then
        perform pg_notify('lms_jobs', '');
    end if;
    return null;
end
$$;

create trigger domain_events_certificates after insert on domain_events
    referencing new table as new_events
    for each statement execute function certificates_from_events();
