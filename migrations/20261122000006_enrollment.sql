-- The learner side of courses: the catalog's order, enrollments and cohorts.
-- Every table is tenant-owned: tenant_id leads every key, foreign key and index, and row-level
-- security confines the app role to app.tenant_id.

-- No trigram index for typo-tolerant titles: under RLS the planner never uses an index for an
-- operator that is not LEAKPROOF (pg_trgm's `%`, like full text's `@@`), so it would only be
-- dead weight; the catalog's search is full text alone.
-- The catalog's default order: newest published first, keyset on (published_at, id).
create index courses_catalog on courses (tenant_id, published_at desc, id desc)
    where status = 'published';

create table enrollments (
    tenant_id uuid not null,
    id uuid not null,
    course_id uuid not null,
    user_id uuid not null,
    status text not null default 'active' check (status in ('active', 'completed', 'dropped')),
    source text not null check (source in ('self', 'staff', 'cohort')),
    -- Who enrolled the learner (themselves for self-enrollment).
    enrolled_by uuid not null,
    enrolled_at timestamptz not null default now(),
    completed_at timestamptz,
    dropped_at timestamptz,
    last_activity_at timestamptz,
    primary key (tenant_id, id),
    constraint enrollments_user_course_key unique (tenant_id, user_id, course_id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id),
    foreign key (tenant_id, enrolled_by) references users (tenant_id, id),
    constraint enrollments_status_dates check (
        (status = 'completed') = (completed_at is not null)
        and (status = 'dropped') = (dropped_at is not null)
    )
);
-- A course's roster (and its active count for capacity), newest first.
create index enrollments_course on enrollments (tenant_id, course_id, status, id desc);

-- Groups of learners (a class, a team) that are enrolled together.
create table cohorts (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    name text not null check (length(name) between 1 and 200),
    description text not null default '' check (length(description) <= 1000),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id)
);
create unique index cohorts_name_key on cohorts (tenant_id, lower(name));
create trigger cohorts_updated_at before update on cohorts
    for each row execute function set_updated_at();

create table cohort_members (
    tenant_id uuid not null,
    cohort_id uuid not null,
    user_id uuid not null,
    added_by uuid not null,
    added_at timestamptz not null default now(),
    primary key (tenant_id, cohort_id, user_id),
    foreign key (tenant_id, cohort_id) references cohorts (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id),
    foreign key (tenant_id, added_by) references users (tenant_id, id)
);
create index cohort_members_user on cohort_members (tenant_id, user_id);

alter table enrollments enable row level security;
alter table enrollments force row level security;
create policy tenant_isolation on enrollments to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table cohorts enable row level security;
alter table cohorts force row level security;
alter table cohort_members enable row level security;
alter table cohort_members force row level security;
create policy tenant_isolation on cohorts to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on cohort_members to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update, delete on enrollments, cohorts, cohort_members to lms_app;
-- Cross-tenant reporting reads only.
grant select on enrollments, cohorts, cohort_members to lms_operator;
