-- check: lml_usersgroups_members_known_groups
-- severity: error
-- description: every member row belongs to an existing group and an existing user
select m.group_id, m.user_id
from lml_usersgroups.members as m
left join lml_usersgroups.main as g on g.group_id = m.group_id
left join lml_users.main as u on u.user_id = m.user_id
where g.group_id is null or u.user_id is null
