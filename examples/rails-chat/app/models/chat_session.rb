class ChatSession < ApplicationRecord
  belongs_to :user
  has_many :messages

  scope :active, -> { where(ended_at: nil) }

  def close!(by)
    update!(ended_at: Time.current, ended_by: by) unless ended_at
  end

  # Closes the sessions of users no longer online (not in the "online" presence of
  # juggernautd) for cleanup_grace seconds: a user whose push connection is moving to
  # another instance, or who is between two pages, is offline for a moment only.
  def self.close_offline!
    online = Juggernaut.presence("online").filter_map { |m| m["meta"] && m["meta"]["user_id"] }
    grace = Rails.application.config.x.cleanup_grace.seconds
    active.where(user_id: online).where.not(offline_since: nil).update_all(offline_since: nil)
    active.where.not(user_id: online).where(offline_since: nil).update_all(offline_since: Time.current)
    active.where.not(user_id: online).where("offline_since < ? AND started_at < ?", grace.ago, grace.ago)
          .find_each { |s| s.close!("cleanup") }
  end

  # The messages a user saw while this session was open: everything in their chats
  # between its start and end.
  def transcript
    Message.includes(:user, :chat).where(chat_id: user.chat_ids)
           .where(created_at: started_at..(ended_at || Time.current)).order(:created_at, :id)
  end
end
