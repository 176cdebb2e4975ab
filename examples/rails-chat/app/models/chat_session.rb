class ChatSession < ApplicationRecord
  belongs_to :user
  has_many :messages

  scope :active, -> { where(ended_at: nil) }

  def close!(by)
    update!(ended_at: Time.current, ended_by: by) unless ended_at
  end

  # Closes the sessions of users no longer online (not in the "online" presence of
  # juggernautd), leaving alone those that started less than cleanup_grace seconds ago
  # (signed in, page not connected yet). Their messages were persisted when sent: nothing is lost here.
  def self.close_offline!
    online = Juggernaut.presence("online").filter_map { |m| m["meta"] && m["meta"]["user_id"] }
    active.where.not(user_id: online).where("started_at < ?", Rails.application.config.x.cleanup_grace.seconds.ago).find_each do |s|
      s.close!("cleanup")
    end
  end

  # The messages a user saw while this session was open: everything in their chats
  # between its start and end.
  def transcript
    Message.includes(:user, :chat).where(chat_id: user.chat_ids)
           .where(created_at: started_at..(ended_at || Time.current)).order(:created_at, :id)
  end
end
