-- check: lml_users_catalog_names
-- severity: warn
-- description: every role and area of the catalogs has a name
select 'roles' as catalog, role_id as catalog_id from lml_users.roles where name is null
union all
select 'areas', area_id from lml_users.areas where name is null
