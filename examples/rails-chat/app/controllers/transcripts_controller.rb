# Transcripts grouped by chat session (login to logout) and, within it, by user (the one-to-one partner, or the group).
class TranscriptsController < ApplicationController
  def index
    @sessions = current_user.chat_sessions.order(started_at: :desc).map do |s|
      [s, s.transcript.group_by { |m| m.chat.title_for(current_user) }]
    end
  end
end
