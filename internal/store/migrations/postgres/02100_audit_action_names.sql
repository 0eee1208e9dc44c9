-- +goose Up
-- Together's audit actions are snake_case (server_create, member_kick, …):
-- its client filters by them. Rows written with the dotted names before are
-- renamed; invite.delete is Together's invite_revoke.
UPDATE together_audit_logs SET action = 'invite_revoke' WHERE action = 'invite.delete';
UPDATE together_audit_logs SET action = REPLACE(action, '.', '_') WHERE action LIKE '%.%';

-- +goose Down
UPDATE together_audit_logs SET action = 'invite.delete' WHERE action = 'invite_revoke';
UPDATE together_audit_logs SET action = 'member.' || SUBSTR(action, 8) WHERE action LIKE 'member\_%' ESCAPE '\';
UPDATE together_audit_logs SET action = REPLACE(action, '_', '.') WHERE action NOT LIKE 'member.%' AND action LIKE '%\_%' ESCAPE '\';
