-- check: lml_listbuilder_visible_roles_known
-- severity: warn
-- description: every role name a list is visible to names exactly one catalog role
select v.list_id, v.role_name
from lml_listbuilder.visible_roles as v
where v.role_id is null
