class Message < ApplicationRecord
  belongs_to :chat
  belongs_to :user
  belongs_to :chat_session

  # what every member's browser gets (data of the juggernaut message)
  def push_data(for_user)
    { id: id, chat: chat.as_json_for(for_user), from: { id: user.id, name: user.name },
      body: body, at: created_at.iso8601(3) }
  end

  # Persist first, then publish to every member's channel, skipping the sender's own
  # browser session (it shows the message already). A member's other tabs still get it.
  def self.post!(chat:, user:, chat_session:, body:, except:)
    message = create!(chat: chat, user: user, chat_session: chat_session, body: body)
    chat.users.each do |member|
      Juggernaut.publish(member.channel, message.push_data(member), except: except.presence)
    end
    message
  end
end
