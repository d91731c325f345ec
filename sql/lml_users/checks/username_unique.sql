-- check: lml_users_username_unique
-- severity: error
-- description: username is unique among non-deleted real users (ghosts excluded)
select username, count(*) as users, array_agg(user_id order by user_id) as user_ids
from lml_users.main
where not is_deleted and not is_ghost and username is not null
group by username
having count(*) > 1
