-- check: lml_users_ghosts_deleted
-- severity: error
-- description: every ghost user is flagged deleted
select user_id, username, is_deleted
from lml_users.main
where is_ghost and not is_deleted
