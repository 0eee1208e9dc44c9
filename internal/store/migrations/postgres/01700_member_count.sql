-- +goose Up
-- A community's member count, kept by triggers on community_members, so
-- that reading a community (every channel request's permission check, the
-- server list) no longer counts its members: that count grew with the
-- community (a 1,000-member server paid for 1,000 index entries on every
-- request). The triggers also see cascaded deletes (an account deleted,
-- a community deleted).
ALTER TABLE communities ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE communities SET member_count = (SELECT COUNT(*) FROM community_members m WHERE m.community_id = communities.id);
-- +goose StatementBegin
CREATE FUNCTION community_members_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE communities SET member_count = member_count + 1 WHERE id = NEW.community_id;
        RETURN NEW;
    END IF;
    UPDATE communities SET member_count = member_count - 1 WHERE id = OLD.community_id;
    RETURN OLD;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER community_members_count AFTER INSERT OR DELETE ON community_members
    FOR EACH ROW EXECUTE FUNCTION community_members_count();

-- +goose Down
DROP TRIGGER community_members_count ON community_members;
DROP FUNCTION community_members_count();
ALTER TABLE communities DROP COLUMN member_count;
