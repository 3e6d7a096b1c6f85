-- Course authoring: courses, their instructors and prerequisites, and the outline (ordered modules
-- of ordered items). Every table is tenant-owned: tenant_id leads every key, foreign key and index,
-- and row-level security confines the app role to app.tenant_id.
--
-- Ready for what comes next: the catalog searches `search` (weighted full text; a trigram index
-- on title joins it with the catalog), enrollments and cohorts reference (tenant_id, course_id),
-- progress references (tenant_id, course_id, item_id) and honours `required` and `sequential`.

-- btree_gin lets the full-text index lead with tenant_id like every other index (trusted).
create extension if not exists btree_gin;

-- The text a course is found by. Immutable (array_to_string is only stable), so it can feed a
-- generated column.
create function course_search_document(title text, tags text[], summary text, description text)
returns tsvector
language sql immutable parallel safe as $$
    select setweight(to_tsvector('simple', coalesce(title, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(array_to_string(tags, ' '), '')), 'B')
        || setweight(to_tsvector('simple', coalesce(summary, '')), 'C')
        || setweight(to_tsvector('simple', coalesce(description, '')), 'D')
$$;

create table courses (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    slug text not null check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 100),
    title text not null check (length(title) between 1 and 200),
    summary text not null default '' check (length(summary) <= 1000),
    description text not null default '' check (length(description) <= 100000),
    category text check (length(category) between 1 and 100),
    tags text[] not null default '{}' check (cardinality(tags) <= 20),
    difficulty text not null default 'beginner'
        check (difficulty in ('beginner', 'intermediate', 'advanced')),
    language text not null default 'en' check (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$'),
    estimated_minutes integer check (estimated_minutes >= 0),
    thumbnail_url text check (thumbnail_url like 'https://%'),
    price_minor bigint not null default 0 check (price_minor >= 0),
    currency text check (currency ~ '^[A-Z]{3}$'),
    self_enrollment boolean not null default true,
    capacity integer check (capacity >= 1),
    sequential boolean not null default false,
    is_template boolean not null default false,
    status text not null default 'draft' check (status in ('draft', 'published', 'archived')),
    published_at timestamptz,
    archived_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    search tsvector generated always as (
        course_search_document(title, tags, summary, description)
    ) stored,
    primary key (tenant_id, id),
    constraint courses_slug_key unique (tenant_id, slug),
    constraint courses_price_needs_currency check (price_minor = 0 or currency is not null)
);
create trigger courses_updated_at before update on courses
    for each row execute function set_updated_at();
create index courses_status on courses (tenant_id, status, id desc);
create index courses_search on courses using gin (tenant_id, search);
create index courses_category on courses (tenant_id, category) where category is not null;

-- Who authors a course: exactly one owner (its creator) and any number of co-instructors.
create table course_instructors (
    tenant_id uuid not null,
    course_id uuid not null,
    user_id uuid not null,
    role text not null check (role in ('owner', 'co_instructor')),
    added_at timestamptz not null default now(),
    primary key (tenant_id, course_id, user_id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create unique index course_instructors_one_owner on course_instructors (tenant_id, course_id)
    where role = 'owner';
create index course_instructors_user on course_instructors (tenant_id, user_id);

-- A course requires completing others first. Cycles are refused by the service (under a lock).
create table course_prerequisites (
    tenant_id uuid not null,
    course_id uuid not null,
    prerequisite_id uuid not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, course_id, prerequisite_id),
    constraint course_prerequisites_not_self check (course_id <> prerequisite_id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade,
    foreign key (tenant_id, prerequisite_id) references courses (tenant_id, id) on delete cascade
);
create index course_prerequisites_required_by on course_prerequisites (tenant_id, prerequisite_id);

-- Positions are contiguous 0..n per parent. The uniqueness check is deferred to commit so a
-- reorder can rewrite every position in one statement.
create table course_modules (
    tenant_id uuid not null,
    id uuid not null,
    course_id uuid not null,
    position integer not null check (position >= 0),
    title text not null check (length(title) between 1 and 200),
    summary text not null default '' check (length(summary) <= 1000),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    -- Target of the items' foreign key, which pins an item's module to the item's course.
    constraint course_modules_course_key unique (tenant_id, course_id, id),
    constraint course_modules_position_key unique (tenant_id, course_id, position)
        deferrable initially deferred,
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade
);
create trigger course_modules_updated_at before update on course_modules
    for each row execute function set_updated_at();

create table course_items (
    tenant_id uuid not null,
    id uuid not null,
    course_id uuid not null,
    module_id uuid not null,
    position integer not null check (position >= 0),
    kind text not null
        check (kind in ('text', 'video', 'document', 'external_link', 'quiz', 'assignment')),
    title text not null check (length(title) between 1 and 200),
    required boolean not null default true,
    body text check (length(body) <= 100000),
    url text check (url ~ '^https?://'),
    duration_seconds integer check (duration_seconds >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    -- Each kind carries exactly its own content.
    constraint course_items_content check (
        case kind
            when 'text' then body is not null and url is null and duration_seconds is null
            when 'video' then body is null and url is not null
            when 'document' then body is null and url is not null and duration_seconds is null
            when 'external_link' then body is null and url is not null and duration_seconds is null
            else body is null and url is null and duration_seconds is null
        end
    ),
    constraint course_items_position_key unique (tenant_id, module_id, position)
        deferrable initially deferred,
    foreign key (tenant_id, course_id, module_id)
        references course_modules (tenant_id, course_id, id) on delete cascade
);
create trigger course_items_updated_at before update on course_items
    for each row execute function set_updated_at();
create index course_items_course on course_items (tenant_id, course_id);

alter table courses enable row level security;
alter table courses force row level security;
alter table course_instructors enable row level security;
alter table course_instructors force row level security;
alter table course_prerequisites enable row level security;
alter table course_prerequisites force row level security;
alter table course_modules enable row level security;
alter table course_modules force row level security;
alter table course_items enable row level security;
alter table course_items force row level security;

create policy tenant_isolation on courses to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on course_instructors to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on course_prerequisites to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on course_modules to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on course_items to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update, delete
    on courses, course_instructors, course_prerequisites, course_modules, course_items to lms_app;
-- Cross-tenant reporting reads only.
grant select
    on courses, course_instructors, course_prerequisites, course_modules, course_items
    to lms_operator;
grant execute on function course_search_document(text, text[], text, text) to lms_app, lms_operator;
