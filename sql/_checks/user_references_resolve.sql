-- check: user_references_resolve
-- severity: error
-- description: every column naming a user (created_by_user_id, member user_id, ...) points to a row of lml_users.main, ghosts included
with refs as (
  select 'lml_users.main.created_by_user_id' as ref, created_by_user_id as user_id from lml_users.main
  union all select 'lml_users.main.updated_by_user_id', updated_by_user_id from lml_users.main
  union all select 'lml_usersgroups.main.owner_user_id', owner_user_id from lml_usersgroups.main
  union all select 'lml_usersgroups.main.created_by_user_id', created_by_user_id from lml_usersgroups.main
  union all select 'lml_usersgroups.main.updated_by_user_id', updated_by_user_id from lml_usersgroups.main
  union all select 'lml_usersgroups.members.user_id', user_id from lml_usersgroups.members
  union all select 'lml_formbuilder.main.created_by_user_id', created_by_user_id from lml_formbuilder.main
  union all select 'lml_formbuilder.main.updated_by_user_id', updated_by_user_id from lml_formbuilder.main
  union all select 'lml_processtypes.main.created_by_user_id', created_by_user_id from lml_processtypes.main
  union all select 'lml_processtypes.main.updated_by_user_id', updated_by_user_id from lml_processtypes.main
  union all select 'lml_listbuilder.main.created_by_user_id', created_by_user_id from lml_listbuilder.main
  union all select 'lml_listbuilder.main.updated_by_user_id', updated_by_user_id from lml_listbuilder.main
  union all select 'lml_people.main.created_by_user_id', created_by_user_id from lml_people.main
  union all select 'lml_people.main.updated_by_user_id', updated_by_user_id from lml_people.main
  union all select 'lml_processes.main.assigned_user_id', assigned_user_id from lml_processes.main
  union all select 'lml_processes.main.created_by_user_id', created_by_user_id from lml_processes.main
  union all select 'lml_processes.main.updated_by_user_id', updated_by_user_id from lml_processes.main
  union all select 'lml_processes.movements.moved_by_user_id', moved_by_user_id from lml_processes.movements
  union all select 'lml_processes.attachments.uploaded_by_user_id', uploaded_by_user_id from lml_processes.attachments
)
select r.ref, r.user_id, count(*) as references
from refs as r
where r.user_id is not null
  and not exists (select from lml_users.main as u where u.user_id = r.user_id)
group by r.ref, r.user_id
